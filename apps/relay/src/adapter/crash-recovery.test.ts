/**
 * Durability against a real relay process (`mxcast relay`): kill -9 mid-upload (plus a torn write
 * left at the end of the file), restart, and the media is cut back to its last whole block, HEAD
 * reports that offset, the upload resumes, and a listener reconnecting from its next seq gets no
 * duplicate and no gap. Also: SIGTERM shuts down cleanly with exit code 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createToken } from '../core/token-store.ts';
import { P, makeStream, sleep, until } from '../testing/relay-fixture.ts';
import { collect } from '../testing/ws-collector.ts';

const BIN = resolve(import.meta.dirname, '../../../cli/bin/mxcast.js');
const dataDir = mkdtempSync(join(tmpdir(), 'mxcast-crash-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

async function spawnRelay(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [BIN, 'relay', '--port', '0', '--data', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const url = await new Promise<string>((resolveUrl, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('http://'));
      if (line) resolveUrl(line.trim());
    });
    child.once('exit', (code) => reject(new Error(`relay exited with ${code}`)));
  });
  return { child, url };
}

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: string | null }>((r) => {
    if (child.exitCode !== null || child.signalCode !== null)
      r({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => r({ code, signal }));
  });

describe('crash and restart', () => {
  it('recovers after kill -9: cut to the last whole block, HEAD offset, resume, listener without gap or duplicate', async () => {
    const token = createToken(dataDir, '@alice:localhost');
    const auth = { Authorization: `Bearer ${token}` };
    const s = makeStream(60, 200);
    const cutSeq = 30;

    let relay = await spawnRelay();
    const created = (await (
      await fetch(`${relay.url}/_matrix/media/v1/create`, { method: 'POST', headers: auth })
    ).json()) as {
      content_uri: string;
    };
    const id = created.content_uri.split('/').pop() as string;
    const paths = {
      upload: `/_matrix/media/v3/upload/localhost/${id}`,
      download: `/_matrix/client/v1/media/download/localhost/${id}`,
      index: `${P}/index/localhost/${id}`,
      tus: `${P}/tus/localhost/${id}`,
      ws: `${P}/ws/localhost/${id}`,
    };
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
    const put = fetch(relay.url + paths.upload, {
      method: 'PUT',
      headers: auth,
      body,
      duplex: 'half',
    } as RequestInit);
    put.catch(() => undefined);
    const listener = collect(`${relay.url.replace('http', 'ws')}${paths.ws}?from=0`);
    await listener.opened;
    // Whole blocks 0..29, then half of block 30 (never stored: not a whole block).
    controller.enqueue(s.bytes.subarray(0, s.offsets[cutSeq]));
    controller.enqueue(s.bytes.subarray(s.offsets[cutSeq], (s.offsets[cutSeq] as number) + 50));
    await until(() => listener.blocks.length === cutSeq, 5000, 'listener got 30 blocks');
    await sleep(300); // past a group flush

    relay.child.kill('SIGKILL');
    await exited(relay.child);
    await listener.closed;
    // A torn write at the end, as a power cut could leave: part of a header and garbage.
    const file = join(dataDir, 'media', `${id}.mxc`);
    appendFileSync(
      file,
      Buffer.concat([
        Buffer.from(s.blocks[cutSeq] as Uint8Array).subarray(0, 40),
        Buffer.alloc(100, 0xab),
      ]),
    );
    expect(statSync(file).size).toBe((s.offsets[cutSeq] as number) + 140);

    relay = await spawnRelay();
    expect(statSync(file).size).toBe(s.offsets[cutSeq]);
    const head = await fetch(relay.url + paths.tus, {
      method: 'HEAD',
      headers: { ...auth, 'Tus-Resumable': '1.0.0' },
    });
    expect(head.status).toBe(200);
    expect(head.headers.get('upload-offset')).toBe(String(s.offsets[cutSeq]));
    const idx = (await (await fetch(relay.url + paths.index)).json()) as {
      state: string;
      block_count: number;
      byte_length: number;
    };
    expect(idx).toMatchObject({
      state: 'live',
      block_count: cutSeq,
      byte_length: s.offsets[cutSeq],
    });

    // The listener reconnects from the seq after the last one it got.
    const lastSeq = (listener.blocks.at(-1) as Buffer).readUInt32BE(4);
    const again = collect(`${relay.url.replace('http', 'ws')}${paths.ws}?from=${lastSeq + 1}`);
    await again.opened;
    const at = s.offsets[cutSeq] as number;
    const rest = await fetch(relay.url + paths.upload, {
      method: 'PUT',
      headers: { ...auth, 'Content-Range': `bytes ${at}-*/*` },
      body: new Uint8Array(s.bytes.subarray(at)),
    });
    expect(rest.status).toBe(200);
    const { sha256 } = (await rest.json()) as { sha256: string };
    expect(sha256).toBe(createHash('sha256').update(s.bytes).digest('base64').replace(/=+$/, ''));
    await again.closed;
    const got = [...listener.blocks, ...again.blocks];
    expect(got.map((b) => b.readUInt32BE(4))).toEqual(s.blocks.map((_, i) => i));
    expect(Buffer.concat(got).equals(Buffer.concat(s.blocks))).toBe(true);
    const download = Buffer.from(await (await fetch(relay.url + paths.download)).arrayBuffer());
    expect(download.equals(s.bytes)).toBe(true);

    relay.child.kill('SIGTERM');
    expect(await exited(relay.child)).toEqual({ code: 0, signal: null });
  }, 60_000);
});
