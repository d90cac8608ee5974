/**
 * Damage is detected, never served as whole (docs/operations.md "Damage and repair"). Media files
 * are damaged on disk under a real `mxcast relay` process between restarts — truncated, extended,
 * one byte flipped, deleted — and every reader (download, Range, If-None-Match, index, HLS,
 * WebSocket listen) must get `500 M_UNKNOWN` reason `DAMAGED` with `Cache-Control: no-store` and
 * never the original ETag; the relay logs one line per media and keeps the mark (the database's
 * stored length is not rewritten to match the damaged file). A lost relay.db makes the relay
 * refuse to start; `mxcast relay --repair` rebuilds the rows from the files.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  readFileSync,
  rmSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAGIC, encodeBlock } from '@mxcast/format';
import { createToken } from '@mxcast/relay';
import { bin } from '../capture/capture-harness.ts';
import { createMedia, useHostileRelay, type HostileRelay } from './hostile-harness.ts';

const exec = promisify(execFile);
const P = '/_matrix/media/unstable/org.matrix.msc4016';
const DOWNLOAD = '/_matrix/client/v1/media/download';

/** A valid stream of `count` blocks (random ciphertext: the relay never decrypts). */
function stream(count: number, ctLength = 500): Buffer {
  const parts: Uint8Array[] = [MAGIC];
  for (let seq = 0; seq < count; seq++) parts.push(encodeBlock(seq, randomBytes(ctLength)));
  return Buffer.concat(parts);
}

const sha256Of = (b: Uint8Array) =>
  createHash('sha256').update(b).digest('base64').replace(/=+$/, '');

async function uploadComplete(relay: HostileRelay, bytes: Buffer): Promise<string> {
  const media = await createMedia(relay);
  const res = await fetch(`${relay.url}/_matrix/media/v3/upload/${media}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${relay.token}`, 'content-type': 'application/octet-stream' },
    body: new Uint8Array(bytes),
  });
  expect(res.status).toBe(200);
  return media;
}

/** A live media: its first bytes sent by a PUT that never ends (cut when the relay is killed). */
async function uploadLive(relay: HostileRelay, bytes: Buffer): Promise<string> {
  const media = await createMedia(relay);
  const body = new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(bytes) });
  void fetch(`${relay.url}/_matrix/media/v3/upload/${media}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${relay.token}` },
    body,
    duplex: 'half',
  } as RequestInit).catch(() => undefined);
  for (let i = 0; i < 200; i++) {
    const index = await indexOf(relay, media);
    if (index.body.byte_length === bytes.length) return media;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('live upload did not arrive');
}

async function indexOf(relay: HostileRelay, media: string) {
  const res = await fetch(`${relay.url}${P}/index/${media}`);
  return { res, body: (await res.json()) as Record<string, unknown> };
}

const fileOf = (relay: HostileRelay, media: string) =>
  path.join(relay.dataDir, 'media', `${media.split('/')[1]}.mxc`);

/** Asserts a refusal as damaged: the Matrix error, no-store, no ETag. */
async function expectDamaged(res: Response, oldEtag?: string | null): Promise<void> {
  expect(res.status).toBe(500);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.headers.get('etag')).toBeNull();
  if (oldEtag) expect(res.headers.get('etag')).not.toBe(oldEtag);
  const body = (await res.json()) as Record<string, unknown>;
  expect(body.errcode).toBe('M_UNKNOWN');
  expect(body['org.matrix.msc4016.reason']).toBe('DAMAGED');
}

/** The WebSocket listen upgrade's refusal: status and body. */
function wsRefusal(relay: HostileRelay, media: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${relay.url.replace(/^http/, 'ws')}${P}/ws/${media}?from=0`);
    ws.on('open', () => reject(new Error('listening to a damaged media was accepted')));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('error', () => undefined);
  });
}

/** Runs `mxcast relay --repair` on dataDir (the relay stopped). */
const repair = (dataDir: string) =>
  exec(process.execPath, [bin, 'relay', '--repair', '--data', dataDir]);

/** Starts `mxcast relay` on dataDir and returns its exit (code, stderr), or null if it ran. */
const refusedStart = (dataDir: string) =>
  exec(process.execPath, [bin, 'relay', '--port', '0', '--data', dataDir], { timeout: 20_000 })
    .then(() => null)
    .catch((err: { code: number; stderr: string }) => err);

const logLinesOf = (relay: HostileRelay, id: string) =>
  relay.stderr.split('\n').filter((l) => l.includes(`media ${id} damaged:`));

describe('damaged media files', () => {
  const relay = useHostileRelay();
  const bytes = {
    truncated: stream(40),
    extended: stream(40),
    corrupted: stream(40),
    deleted: stream(40),
    intact: stream(40),
    live: stream(10),
  };
  const media: Record<keyof typeof bytes, string> = {} as never;
  const etags: Record<string, string | null> = {};
  const idOf = (k: keyof typeof bytes) => media[k].split('/')[1] as string;

  it('damages files of complete and live media between two runs', async () => {
    const r = relay();
    for (const k of ['truncated', 'extended', 'corrupted', 'deleted', 'intact'] as const) {
      media[k] = await uploadComplete(r, bytes[k]);
      const res = await fetch(`${r.url}${DOWNLOAD}/${media[k]}`, { method: 'HEAD' });
      etags[k] = res.headers.get('etag');
      expect(etags[k]).toBe(`"${sha256Of(bytes[k])}"`);
    }
    media.live = await uploadLive(r, bytes.live);
    await r.kill('SIGTERM');

    truncateSync(fileOf(r, media.truncated), bytes.truncated.length - 100);
    appendFileSync(fileOf(r, media.extended), randomBytes(700));
    const flipped = Buffer.from(bytes.corrupted);
    // A byte inside block 20's ciphertext (blocks are 16 + 500 bytes after the 4-byte magic):
    // framing intact, sha256 not.
    const at = 4 + 20 * 516 + 100;
    flipped[at] = (flipped[at] ?? 0) ^ 0x20;
    writeFileSync(fileOf(r, media.corrupted), flipped);
    rmSync(fileOf(r, media.deleted));
    rmSync(fileOf(r, media.live));
    await r.restart();
  });

  it('logs one line per damaged media at start (size checks) and never a key or title', () => {
    const r = relay();
    for (const k of ['truncated', 'extended', 'deleted', 'live'] as const)
      expect(logLinesOf(r, idOf(k))).toHaveLength(1);
    expect(logLinesOf(r, idOf('truncated'))[0]).toMatch(
      new RegExp(
        `is ${bytes.truncated.length - 100} bytes, shorter than the ${bytes.truncated.length} stored`,
      ),
    );
    expect(logLinesOf(r, idOf('extended'))[0]).toMatch(/longer than the \d+ stored/);
    expect(logLinesOf(r, idOf('deleted'))[0]).toMatch(/file missing/);
    expect(logLinesOf(r, idOf('live'))[0]).toMatch(/file missing/);
    // The flipped byte keeps the size: it is found when the media is first read (sha256).
    expect(logLinesOf(r, idOf('corrupted'))).toHaveLength(0);
    expect(logLinesOf(r, idOf('intact'))).toHaveLength(0);
  });

  it('answers every reader of damaged complete media 500 DAMAGED, no-store, without the old ETag', async () => {
    const r = relay();
    for (const k of ['truncated', 'extended', 'corrupted', 'deleted'] as const) {
      const url = `${r.url}${DOWNLOAD}/${media[k]}`;
      await expectDamaged(await fetch(url), etags[k]);
      await expectDamaged(await fetch(url, { headers: { range: 'bytes=0-99' } }), etags[k]);
      await expectDamaged(await fetch(url, { headers: { 'if-none-match': etags[k] ?? '' } }));
      const head = await fetch(url, { method: 'HEAD' });
      expect([head.status, head.headers.get('cache-control'), head.headers.get('etag')]).toEqual([
        500,
        'no-store',
        null,
      ]);
      await expectDamaged(await fetch(`${r.url}${P}/index/${media[k]}`));
      await expectDamaged(await fetch(`${r.url}${P}/hls/${media[k]}/playlist.m3u8`));
      const ws = await wsRefusal(r, media[k]);
      expect(ws.status).toBe(500);
      expect(JSON.parse(ws.body)).toMatchObject({
        errcode: 'M_UNKNOWN',
        'org.matrix.msc4016.reason': 'DAMAGED',
      });
    }
    expect(logLinesOf(r, idOf('corrupted'))).toEqual([
      expect.stringContaining('sha256 does not match the completion hash'),
    ]);
    // Logged once when found, not once per request (a reader cannot flood the log).
    for (const k of ['truncated', 'extended', 'deleted'] as const)
      expect(logLinesOf(r, idOf(k))).toHaveLength(1);
    expect(r.stderr).not.toContain('internal error');
  });

  it('serves the intact media as before: same ETag, immutable, same bytes', async () => {
    const r = relay();
    const res = await fetch(`${r.url}${DOWNLOAD}/${media.intact}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(etags.intact);
    expect(res.headers.get('cache-control')).toContain('immutable');
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes.intact)).toBe(true);
  });

  it('a live media whose file is gone is damaged, not pending: readers and uploads refused', async () => {
    const r = relay();
    await expectDamaged(await fetch(`${r.url}${P}/index/${media.live}`));
    const head = await fetch(`${r.url}${P}/tus/${media.live}`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${r.token}`, 'tus-resumable': '1.0.0' },
    });
    expect(head.status).toBe(500);
    expect(head.headers.get('upload-offset')).toBeNull();
    const put = await fetch(`${r.url}/_matrix/media/v3/upload/${media.live}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${r.token}`, 'content-range': 'bytes 0-*/*' },
      body: new Uint8Array(bytes.live),
    });
    await expectDamaged(put);
    expect(existsSync(fileOf(r, media.live))).toBe(false);
    const metrics = await (await fetch(`${r.url}/metrics`)).text();
    expect(metrics).toMatch(/^mxcast_media_damaged_total 5$/m);
  });

  it('keeps the mark across restarts (the stored length is not rewritten), until --repair finds the file whole again', async () => {
    const r = relay();
    await r.kill('SIGTERM');
    // The truncated file restored from a backup: the database still knows its true length.
    writeFileSync(fileOf(r, media.truncated), bytes.truncated);
    await r.restart();
    await expectDamaged(await fetch(`${r.url}${DOWNLOAD}/${media.truncated}`));
    await r.kill('SIGTERM');
    const { stdout } = await repair(r.dataDir);
    expect(stdout).toContain(`cleared ${idOf('truncated')}: its file matches again`);
    expect(stdout).toContain(`still damaged ${idOf('corrupted')}: sha256 does not match`);
    expect(stdout).toMatch(/repaired: 0 recovered, 0 skipped, 1 cleared, 4 still damaged/);
    await r.restart();
    const res = await fetch(`${r.url}${DOWNLOAD}/${media.truncated}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(etags.truncated);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes.truncated)).toBe(true);
  });

  it('the owner may still delete a damaged media', async () => {
    const r = relay();
    const res = await fetch(`${r.url}${P}/media/${media.deleted}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${r.token}` },
    });
    expect(res.status).toBe(200);
    expect((await indexOf(r, media.deleted)).res.status).toBe(404);
  });
});

describe('a lost relay.db', () => {
  const relay = useHostileRelay();
  const finished = stream(300);
  const live = stream(25);
  let complete = '';
  let resumable = '';

  it('refuses to start on an empty relay.db while media files exist, naming the fix', async () => {
    const r = relay();
    complete = await uploadComplete(r, finished);
    resumable = await uploadLive(r, live);
    await r.kill('SIGTERM');
    expect(existsSync(path.join(r.dataDir, 'relay.db-wal'))).toBe(false);
    truncateSync(path.join(r.dataDir, 'relay.db'), 0);
    const refused = await refusedStart(r.dataDir);
    expect(refused?.code).toBe(1);
    const lines = (refused?.stderr ?? '').trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /relay\.db has no media rows but media\/ holds 2 media file\(s\).*mxcast relay --repair --data DIR/,
    );
  });

  it('refuses a relay.db that is not a database at all, naming the fix', async () => {
    const r = relay();
    const db = path.join(r.dataDir, 'relay.db');
    const empty = readFileSync(db);
    writeFileSync(db, randomBytes(8192));
    const refused = await refusedStart(r.dataDir);
    expect(refused?.code).toBe(1);
    expect(refused?.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused?.stderr).toMatch(/relay\.db is unreadable \(.*\): run `mxcast relay --repair/);
    writeFileSync(db, empty);
  });

  it('--repair rebuilds the rows: the finished media downloads with its sha256, the live one resumes', async () => {
    const r = relay();
    // Last written two days ago: past maxLiveDurationMs (24 h), so it cannot be live any more.
    const old = new Date(Date.now() - 48 * 3600_000);
    utimesSync(fileOf(r, complete), old, old);
    const { stdout } = await repair(r.dataDir);
    const id = (m: string) => m.split('/')[1] as string;
    expect(stdout).toContain(
      `recovered ${id(complete)}: complete, ${finished.length} bytes, sha256 ${sha256Of(finished)}, owner @repair:localhost`,
    );
    expect(stdout).toContain(
      `recovered ${id(resumable)}: live (resumable), ${live.length} bytes, owner @repair:localhost`,
    );
    expect(stdout).toMatch(/access tokens cannot be recovered/);

    await r.restart();
    const index = await indexOf(r, complete);
    expect(index.body).toMatchObject({
      state: 'complete',
      byte_length: finished.length,
      block_count: 300,
      sha256: sha256Of(finished),
    });
    const res = await fetch(`${r.url}${DOWNLOAD}/${complete}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(`"${sha256Of(finished)}"`);
    const got = Buffer.from(await res.arrayBuffer());
    expect(sha256Of(got)).toBe(sha256Of(finished));

    // The live media belongs to @repair:localhost: a token for it resumes the upload to the end.
    const repairToken = createToken(r.dataDir, '@repair:localhost');
    expect((await indexOf(r, resumable)).body).toMatchObject({
      state: 'live',
      byte_length: live.length,
    });
    const more = Buffer.concat([
      encodeBlock(25, randomBytes(500)),
      encodeBlock(26, randomBytes(500)),
    ]);
    const put = await fetch(`${r.url}/_matrix/media/v3/upload/${resumable}`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${repairToken}`,
        'content-range': `bytes ${live.length}-*/*`,
      },
      body: new Uint8Array(more),
    });
    expect(put.status).toBe(200);
    const done = await indexOf(r, resumable);
    expect(done.body).toMatchObject({
      state: 'complete',
      block_count: 27,
      sha256: sha256Of(Buffer.concat([live, more])),
    });
  });
});
