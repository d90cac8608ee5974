/**
 * Lifecycle details: unused ids expire, legacy little-endian streams (crc 0) are accepted and keep
 * their byte order, the web app is served at / with SPA fallback and no way out of its root.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  makeStream,
  createMedia,
  downloadUrl,
  getIndex,
  sleep,
  startTestRelay,
  streamingPut,
  uploadUrl,
  wsUrl,
  type TestRelay,
} from '../testing/relay-fixture.ts';
import { collect } from '../testing/ws-collector.ts';
import { startRelay } from '../adapter/node-relay.ts';

const webRoot = mkdtempSync(join(tmpdir(), 'mxcast-web-'));
let t: TestRelay;
beforeAll(async () => {
  mkdirSync(join(webRoot, 'assets'));
  writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>mxcast</title>');
  writeFileSync(join(webRoot, 'assets', 'app.js'), 'console.log(1)');
  t = await startTestRelay({
    webRoot,
    limits: { unusedExpiryMs: 1000, uploadIdleTimeoutMs: 400, maxLiveUploadsPerUser: 1 },
  });
});
afterAll(async () => {
  await t.close();
  rmSync(webRoot, { recursive: true, force: true });
});

/** A legacy block as matrix-encrypt-attachment writes it: little-endian seq/len, crc 0. */
function leBlock(seq: number, ctLength: number): Buffer {
  const b = Buffer.alloc(16 + ctLength, 0x5a);
  b.writeUInt32LE(0xffffffff, 0);
  b.writeUInt32LE(seq, 4);
  b.writeUInt32LE(ctLength, 8);
  b.writeUInt32LE(0, 12);
  return b;
}

describe('media lifecycle', () => {
  it('forgets an id with no upload after unused_expires_at', async () => {
    const m = await createMedia(t);
    await sleep(1100);
    const res = await fetch(uploadUrl(t, m), {
      method: 'PUT',
      headers: t.auth,
      body: new Uint8Array(4),
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { errcode: string }).errcode).toBe('M_NOT_FOUND');
  });

  it('answers a download that waits on an id which then expires unused: 404, "expired"', async () => {
    const m = await createMedia(t);
    const res = await fetch(`${downloadUrl(t, m)}?timeout_ms=5000`);
    expect(res.status).toBe(404);
    const body = (await res.json()) as { errcode: string; error: string };
    expect(body.errcode).toBe('M_NOT_FOUND');
    expect(body.error).toMatch(/expired/);
    expect(body.error).not.toMatch(/cancelled by its owner/);
  });

  it('closes an upload connection that brings no byte for uploadIdleTimeoutMs, keeping its blocks', async () => {
    const m = await createMedia(t);
    const s = makeStream(6, 50);
    const idle = streamingPut(uploadUrl(t, m), t.auth);
    idle.response.catch(() => undefined);
    idle.push(s.bytes.subarray(0, s.offsets[3]));
    await sleep(100);
    const m2 = await createMedia(t);
    const busy = await fetch(uploadUrl(t, m2), {
      method: 'PUT',
      headers: t.auth,
      body: new Uint8Array(s.bytes),
    });
    expect(busy.status).toBe(429); // the one upload slot is taken
    await sleep(600);
    const freed = await fetch(uploadUrl(t, m2), {
      method: 'PUT',
      headers: t.auth,
      body: new Uint8Array(s.bytes),
    });
    expect(freed.status).toBe(200);
    expect(await getIndex(t, m)).toMatchObject({
      state: 'live',
      block_count: 3,
      byte_length: s.offsets[3],
    });
  });

  it('accepts a legacy little-endian stream with zero CRCs and fans it out as stored', async () => {
    const m = await createMedia(t);
    const blocks = [0, 1, 2, 3].map((seq) => leBlock(seq, 40));
    const bytes = Buffer.concat([Buffer.from([0x4d, 0x58, 0x43, 0x03]), ...blocks]);
    const listener = collect(wsUrl(t, 'ws', m, '?from=0'));
    await listener.opened;
    const res = await fetch(uploadUrl(t, m), {
      method: 'PUT',
      headers: t.auth,
      body: new Uint8Array(bytes),
    });
    expect(res.status).toBe(200);
    await listener.closed;
    expect(Buffer.concat(listener.blocks).equals(Buffer.concat(blocks))).toBe(true);
    const idx = (await getIndex(t, m)) as unknown as { byte_order: string; block_count: number };
    expect(idx).toMatchObject({ byte_order: 'le', block_count: 4 });
    expect(Buffer.from(await (await fetch(downloadUrl(t, m))).arrayBuffer()).equals(bytes)).toBe(
      true,
    );
  });
});

describe('data directory', () => {
  it('refuses a second relay on the same data directory', async () => {
    await expect(startRelay({ dataDir: t.dataDir, port: 0 })).rejects.toThrow(/in use/);
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
  });
});

describe('web app', () => {
  it('serves files, falls back to index.html for app routes, and stays inside its root', async () => {
    const index = await fetch(`${t.url}/`);
    expect(await index.text()).toContain('<title>mxcast</title>');
    const listen = await fetch(`${t.url}/listen`);
    expect(listen.headers.get('content-type')).toContain('text/html');
    expect(await listen.text()).toContain('<title>mxcast</title>');
    const asset = await fetch(`${t.url}/assets/app.js`);
    expect(asset.headers.get('content-type')).toContain('javascript');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    for (const path of [
      '/assets/missing.js',
      '/..%2f..%2fetc%2fpasswd',
      '/%2e%2e/%2e%2e/etc/passwd.txt',
      '/bad%E0%A4%A',
    ]) {
      const res = await fetch(`${t.url}${path}`);
      expect([path, res.status]).toEqual([path, 404]);
    }
    const api = await fetch(`${t.url}/_matrix/media/v3/unknown`);
    expect(((await api.json()) as { errcode: string }).errcode).toBe('M_UNRECOGNIZED');
  });
});
