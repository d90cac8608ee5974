/**
 * The relay keeps to the protocols it speaks, against clients that do not (docs/protocol.md): tus
 * 1.0.0 Upload-Length (nothing past it stored or fanned out, never changed, never under the offset
 * or over the maximum), RFC 9110 ranges that promise only what the relay can keep, least privilege
 * (0700/0600 on disk, `?access_token=` only on the WebSocket paths, /metrics as private as
 * downloads, nosniff) and token revoke taking effect at once. Each row runs against a real
 * `mxcast relay` process on loopback with real clients (fetch, node:http, ws, the mxcast bin).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAGIC, encodeBlock } from '@mxcast/format';
import { collect } from '../../apps/relay/src/testing/ws-collector.ts';
import { bin, tempDir } from '../capture/capture-harness.ts';
import { startHostileRelay, useHostileRelay, type HostileRelay } from './hostile-harness.ts';

const P = '/_matrix/media/unstable/org.matrix.msc4016';
const MAX_MEDIA_BYTES = 1024 * 1024;

type MatrixError = { errcode: string; error: string; 'org.matrix.msc4016.reason'?: string };

/** A valid MXC v3 stream (random ciphertext: the relay never decrypts) and where each block starts. */
function makeStream(count: number, ctLength: number) {
  const blocks = Array.from({ length: count }, (_, i) => encodeBlock(i, randomBytes(ctLength)));
  const bytes = Buffer.concat([MAGIC, ...blocks]);
  const offsets: number[] = [];
  let at = MAGIC.length;
  for (const b of blocks) {
    offsets.push(at);
    at += b.length;
  }
  return { bytes, offsets };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function createMedia(relay: HostileRelay): Promise<string> {
  const res = await fetch(`${relay.url}/_matrix/media/v1/create`, {
    method: 'POST',
    headers: bearer(relay.token),
  });
  expect(res.status).toBe(200);
  const { content_uri } = (await res.json()) as { content_uri: string };
  return content_uri.slice('mxc://'.length); // server/id
}

const tusUrl = (relay: HostileRelay, media: string) => `${relay.url}${P}/tus/${media}`;
const downloadUrl = (relay: HostileRelay, media: string) =>
  `${relay.url}/_matrix/client/v1/media/download/${media}`;

async function index(relay: HostileRelay, media: string) {
  const res = await fetch(`${relay.url}${P}/index/${media}`);
  return (await res.json()) as { state: string; byte_length: number; block_count: number };
}

function tus(relay: HostileRelay, media: string) {
  const h = { ...bearer(relay.token), 'tus-resumable': '1.0.0' };
  return {
    create: (length?: number) =>
      fetch(tusUrl(relay, media), {
        method: 'POST',
        headers: {
          ...h,
          ...(length === undefined
            ? { 'upload-defer-length': '1' }
            : { 'upload-length': String(length) }),
        },
      }),
    head: () => fetch(tusUrl(relay, media), { method: 'HEAD', headers: h }),
    /** A PATCH with a streamed body: chunked, so the relay cannot know its size in advance. */
    patch: (offset: number, bytes: Uint8Array, extra: Record<string, string> = {}) =>
      fetch(tusUrl(relay, media), {
        method: 'PATCH',
        headers: {
          ...h,
          'content-type': 'application/offset+octet-stream',
          'upload-offset': String(offset),
          ...extra,
        },
        body: new ReadableStream<Uint8Array>({
          start(c) {
            for (let at = 0; at < bytes.length; at += 1000) c.enqueue(bytes.slice(at, at + 1000));
            c.close();
          },
        }),
        duplex: 'half',
      } as RequestInit),
  };
}

/** A WebSocket listener from block 0 (the relay tests' raw `ws` collector): blocks and JSON messages. */
const listen = (relay: HostileRelay, media: string, query = '?from=0') =>
  collect(`${relay.url.replace('http', 'ws')}${P}/ws/${media}${query}`);

describe('tus 1.0.0 Upload-Length on a relay process', () => {
  const relay = useHostileRelay({ config: { limits: { maxMediaBytes: MAX_MEDIA_BYTES } } });

  it('PATCH past Upload-Length: 413, nothing past it stored or fanned out, the media completes at it', async () => {
    const r = relay();
    const media = await createMedia(r);
    const s = makeStream(120, 300); // 120 blocks, Upload-Length after 60 of them
    const length = s.offsets[60] as number;
    expect((await tus(r, media).create(length)).status).toBe(201);
    const listener = listen(r, media);
    await listener.opened;
    const res = await tus(r, media).patch(0, s.bytes);
    expect(res.status).toBe(413);
    expect((await res.json()) as MatrixError).toMatchObject({
      errcode: 'M_TOO_LARGE',
      'org.matrix.msc4016.reason': 'PAST_UPLOAD_LENGTH',
    });
    expect(await index(r, media)).toMatchObject({
      state: 'complete',
      byte_length: length,
      block_count: 60,
    });
    const head = await tus(r, media).head();
    expect(head.headers.get('upload-offset')).toBe(String(length));
    expect(head.headers.get('upload-length')).toBe(String(length));
    const body = Buffer.from(await (await fetch(downloadUrl(r, media))).arrayBuffer());
    expect(body.equals(s.bytes.subarray(0, length))).toBe(true);
    await listener.closed;
    expect(listener.blocks).toHaveLength(60);
    expect(listener.messages.at(-1)).toMatchObject({ type: 'end', state: 'complete' });
  });

  it('PATCH declaring Upload-Length under the offset (400) or over maxMediaBytes (413) changes nothing', async () => {
    const r = relay();
    const media = await createMedia(r);
    const s = makeStream(20, 300);
    const t = tus(r, media);
    expect((await t.create()).status).toBe(201);
    const at = s.offsets[10] as number;
    expect((await t.patch(0, s.bytes.subarray(0, at))).status).toBe(204);

    const under = await t.patch(at, s.bytes.subarray(at), { 'upload-length': String(at - 100) });
    expect(under.status).toBe(400);
    expect(((await under.json()) as MatrixError).errcode).toBe('M_INVALID_PARAM');
    const over = await t.patch(at, s.bytes.subarray(at), {
      'upload-length': String(MAX_MEDIA_BYTES + 1),
    });
    expect(over.status).toBe(413);
    expect(((await over.json()) as MatrixError).errcode).toBe('M_TOO_LARGE');

    const head = await t.head();
    expect(head.headers.get('upload-offset')).toBe(String(at));
    expect(head.headers.get('upload-defer-length')).toBe('1');
    expect(head.headers.get('upload-length')).toBeNull();
    expect(await index(r, media)).toMatchObject({ state: 'live', byte_length: at });
    // The honest last PATCH still completes it.
    const last = await t.patch(at, s.bytes.subarray(at), {
      'upload-length': String(s.bytes.length),
    });
    expect(last.status).toBe(204);
    expect((await index(r, media)).state).toBe('complete');
  });
});

describe('ranges on a live media (RFC 9110 §14)', () => {
  const relay = useHostileRelay();

  it('a closed range the media never reaches: no length promised, the response ends cleanly where the media completes', async () => {
    const r = relay();
    const media = await createMedia(r);
    const s = makeStream(20, 190); // 4 + 20 × 206 = 4124 bytes, short of bytes=0-9999
    const t = tus(r, media);
    expect((await t.create()).status).toBe(201);
    const half = s.offsets[10] as number;
    expect((await t.patch(0, s.bytes.subarray(0, half))).status).toBe(204);

    const started = Date.now();
    const got = new Promise<{
      status: number;
      headers: http.IncomingHttpHeaders;
      body: Buffer;
      complete: boolean;
    }>((resolve, reject) => {
      const req = http.get(downloadUrl(r, media), { headers: { range: 'bytes=0-9999' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            complete: res.complete,
          }),
        );
        res.on('error', reject);
      });
      req.on('error', reject);
      req.setTimeout(5000, () => req.destroy(new Error('the range response hung')));
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(
      (await t.patch(half, s.bytes.subarray(half), { 'upload-length': String(s.bytes.length) }))
        .status,
    ).toBe(204);
    const res = await got;
    expect(Date.now() - started).toBeLessThan(4000);
    expect(res.status).toBe(206);
    expect(res.headers['content-length']).toBeUndefined();
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.headers['content-range']).toBe('bytes 0-*/*');
    expect(res.complete).toBe(true);
    expect(res.body.equals(s.bytes)).toBe(true);

    // Once complete the same range is exact: bytes 0-4123/4124.
    const after = await fetch(downloadUrl(r, media), { headers: { range: 'bytes=0-9999' } });
    expect(after.headers.get('content-range')).toBe(
      `bytes 0-${s.bytes.length - 1}/${s.bytes.length}`,
    );
    expect(after.headers.get('content-length')).toBe(String(s.bytes.length));
    expect(after.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await after.arrayBuffer()).byteLength).toBe(s.bytes.length);
  });
});

describe('least privilege', () => {
  const relay = useHostileRelay();
  const mode = (p: string) => statSync(p).mode & 0o777;

  it('data dir 0700; relay.db, its WAL/SHM, the lock and media files 0600', async () => {
    const r = relay();
    const media = await createMedia(r);
    const s = makeStream(5, 100);
    const t = tus(r, media);
    expect((await t.create(s.bytes.length)).status).toBe(201);
    expect((await t.patch(0, s.bytes)).status).toBe(204);
    expect(mode(r.dataDir)).toBe(0o700);
    expect(mode(path.join(r.dataDir, 'media'))).toBe(0o700);
    const files = ['relay.db', 'relay.db-wal', 'relay.db-shm', 'relay.lock'].map((f) =>
      path.join(r.dataDir, f),
    );
    const mediaFiles = readdirSync(path.join(r.dataDir, 'media'));
    expect(mediaFiles.length).toBeGreaterThan(0);
    files.push(...mediaFiles.map((f) => path.join(r.dataDir, 'media', f)));
    for (const f of files) expect([path.basename(f), mode(f)]).toEqual([path.basename(f), 0o600]);
  });

  it('a loose data dir from before is tightened when a relay starts on it', async () => {
    const dataDir = tempDir('mxcast-loose-');
    const first = await startHostileRelay({ dataDir });
    const media = await createMedia(first);
    const s = makeStream(3, 100);
    expect((await tus(first, media).create(s.bytes.length)).status).toBe(201);
    expect((await tus(first, media).patch(0, s.bytes)).status).toBe(204);
    await first.kill('SIGTERM');
    const file = path.join(dataDir, 'media', `${media.split('/')[1]}.mxc`);
    chmodSync(dataDir, 0o755);
    chmodSync(path.join(dataDir, 'relay.db'), 0o644);
    chmodSync(file, 0o644);
    const second = await startHostileRelay({ dataDir });
    try {
      expect(mode(dataDir)).toBe(0o700);
      expect(mode(path.join(dataDir, 'relay.db'))).toBe(0o600);
      expect(mode(file)).toBe(0o600);
      expect((await index(second, media)).state).toBe('complete');
    } finally {
      await second.kill();
    }
  });

  it('?access_token= on an HTTP route is 401 M_MISSING_TOKEN (QUERY_TOKEN_REFUSED); on the WebSocket upload it works', async () => {
    const r = relay();
    const media = await createMedia(r);
    const q = `?access_token=${r.token}`;
    for (const [url, method] of [
      [`${r.url}/_matrix/media/v1/create${q}`, 'POST'],
      [`${tusUrl(r, media)}${q}`, 'POST'],
      [`${downloadUrl(r, media)}${q}`, 'GET'],
      [`${r.url}${P}/index/${media}${q}`, 'GET'],
      [`${r.url}/metrics${q}`, 'GET'],
    ] as const) {
      const res = await fetch(url, { method, headers: { 'upload-defer-length': '1' } });
      expect([url, res.status]).toEqual([url, 401]);
      expect([url, await res.json()]).toEqual([
        url,
        expect.objectContaining({
          errcode: 'M_MISSING_TOKEN',
          'org.matrix.msc4016.reason': 'QUERY_TOKEN_REFUSED',
        }),
      ]);
    }
    const up = new WebSocket(`${r.url.replace('http', 'ws')}${P}/upload/ws/${media}${q}`);
    await new Promise<void>((resolve, reject) => {
      up.once('open', () => resolve());
      up.once('unexpected-response', (_q, res) => reject(new Error(`refused ${res.statusCode}`)));
    });
    up.close();
  });

  it('a token revoked with `mxcast token revoke` is 401 M_UNKNOWN_TOKEN on the next request', async () => {
    const r = relay();
    // Each on a new connection of its own (agent: false): the two CLI runs between them can
    // outlast the relay's keep-alive timeout (5 s) under load, and a pooled socket the relay is
    // closing fails the POST ("other side closed"; fetch's pool kept earlier tests' sockets, so a
    // `connection: close` header did not keep it off them).
    const create = () =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(
          `${r.url}/_matrix/media/v1/create`,
          { method: 'POST', headers: bearer(r.token), agent: false },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end();
      });
    expect((await create()).status).toBe(200);
    const listed = spawnSync(process.execPath, [bin, 'token', 'list', '--data', r.dataDir], {
      encoding: 'utf8',
    });
    expect(listed.status).toBe(0);
    expect(listed.stdout).toContain('@attacker:localhost');
    expect(listed.stdout).not.toContain(r.token);
    const revoked = spawnSync(
      process.execPath,
      [bin, 'token', 'revoke', '--user', '@attacker:localhost', '--data', r.dataDir],
      { encoding: 'utf8' },
    );
    expect(revoked.status).toBe(0);
    const res = await create();
    expect(res.status).toBe(401);
    expect((JSON.parse(res.body) as MatrixError).errcode).toBe('M_UNKNOWN_TOKEN');
  });
});

describe('/metrics with auth.requireTokenForDownload', () => {
  const relay = useHostileRelay({ config: { auth: { requireTokenForDownload: true } } });

  it('needs a token like downloads do', async () => {
    const r = relay();
    const anonymous = await fetch(`${r.url}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as MatrixError).errcode).toBe('M_MISSING_TOKEN');
    const ok = await fetch(`${r.url}/metrics`, { headers: bearer(r.token) });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('mxcast_live_streams');
    expect((await fetch(`${r.url}/health`)).status).toBe(200);
  });
});
