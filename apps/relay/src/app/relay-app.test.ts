/**
 * The core without the Node adapter: the Hono app answered through web Request/Response only
 * (app.request), downloads as web ReadableStreams — a growing file streamed live, a Range, and a
 * cancelled media cutting the stream.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeStream, sleep } from '../testing/relay-fixture.ts';
import { createRelayApp } from './relay-app.ts';
import { resolveConfig, type RelayOptions } from '../core/relay-config.ts';
import { RelayCore } from '../core/relay-core.ts';
import { issueToken } from '../core/token-store.ts';

/**
 * A RelayCore in a temporary data dir behind createRelayApp, with a token for `user`; closed and
 * removed after the enclosing tests.
 */
function coreApp(user: string, options: Partial<RelayOptions> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'mxcast-core-'));
  const core = new RelayCore(resolveConfig({ ...options, dataDir }));
  core.store.start();
  afterAll(async () => {
    await core.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const auth = { Authorization: `Bearer ${issueToken(core.db, user)}` };
  return { core, app: createRelayApp(core), auth };
}

const { core, app, auth } = coreApp('@alice:localhost');

async function create(): Promise<string> {
  const res = await app.request('/_matrix/media/v1/create', { method: 'POST', headers: auth });
  return ((await res.json()) as { content_uri: string }).content_uri.slice('mxc://'.length);
}

function streamingPut(path: string) {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  const response = app.request(`/_matrix/media/v3/upload/${path}`, {
    method: 'PUT',
    headers: auth,
    body,
    duplex: 'half',
  } as RequestInit);
  return {
    response,
    push: (b: Uint8Array) => controller.enqueue(b),
    end: () => controller.close(),
  };
}

async function readAll(body: ReadableStream<Uint8Array> | null): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  const reader = (body as ReadableStream<Uint8Array>).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(parts);
    parts.push(value);
  }
}

/** A media being uploaded: `count` blocks made, the first `sent` of them stored. */
async function liveUpload(count: number, sent: number) {
  const path = await create();
  const s = makeStream(count, 100);
  const put = streamingPut(path);
  put.push(s.bytes.subarray(0, s.offsets[sent]));
  await sleep(50);
  return { path, s, put };
}

describe('core over Request/Response', () => {
  it('streams a growing file to a web ReadableStream, whole and from a Range', async () => {
    const { path, s, put } = await liveUpload(40, 10);
    const whole = await app.request(`/_matrix/client/v1/media/download/${path}`);
    const ranged = await app.request(`/_matrix/client/v1/media/download/${path}`, {
      headers: { Range: 'bytes=300-' },
    });
    expect([whole.status, ranged.status]).toEqual([200, 206]);
    const wholeBody = readAll(whole.body);
    const rangedBody = readAll(ranged.body);
    for (let i = 10; i < 40; i++) {
      put.push(s.blocks[i] as Uint8Array);
      await sleep(2);
    }
    put.end();
    expect((await put.response).status).toBe(200);
    expect((await wholeBody).equals(s.bytes)).toBe(true);
    expect((await rangedBody).equals(s.bytes.subarray(300))).toBe(true);
    expect(core.store.httpListeners).toBe(0);
  });

  it('cuts the stream (an error, not a clean end) when the owner cancels', async () => {
    const { path, put } = await liveUpload(5, 3);
    const res = await app.request(`/_matrix/client/v1/media/download/${path}`);
    const body = readAll(res.body);
    const del = await app.request(`/_matrix/media/unstable/org.matrix.msc4016/media/${path}`, {
      method: 'DELETE',
      headers: auth,
    });
    expect(del.status).toBe(200);
    await expect(body).rejects.toThrow('cancelled');
    put.end();
    expect((await put.response).status).toBe(409);
  });
});

describe('the core without the Node adapter: history pacing and common headers', () => {
  const {
    core: paced,
    app: pacedApp,
    auth: pacedAuth,
  } = coreApp('@bob:localhost', { limits: { listenerStallMs: 300, historyReadBytes: 1024 } });

  it('cuts a web-stream download whose reader takes nothing for listenerStallMs (counted stalled)', async () => {
    const created = await pacedApp.request('/_matrix/media/v1/create', {
      method: 'POST',
      headers: pacedAuth,
    });
    const path = ((await created.json()) as { content_uri: string }).content_uri.slice(6);
    const s = makeStream(200, 100);
    const put = await pacedApp.request(`/_matrix/media/v3/upload/${path}`, {
      method: 'PUT',
      headers: pacedAuth,
      body: new Uint8Array(s.bytes),
    });
    expect(put.status).toBe(200);
    const res = await pacedApp.request(`/_matrix/client/v1/media/download/${path}`);
    expect(res.status).toBe(200);
    expect(paced.store.httpListeners).toBe(1);
    // The reader never reads: the history read waits for a pull, and the relay's stall time cuts it.
    await sleep(700);
    expect(paced.metrics.listenersStalled).toBe(1);
    expect(paced.store.httpListeners).toBe(0);
    expect(paced.metrics.historyBudget().inUse).toBe(0);
    await res.body?.cancel().catch(() => undefined);
  });

  it('puts X-Content-Type-Options: nosniff on every response, errors and preflights included', async () => {
    const answers = await Promise.all([
      pacedApp.request('/health'),
      pacedApp.request('/no/such/path'),
      pacedApp.request('/_matrix/media/v1/create', { method: 'POST' }),
      pacedApp.request('/_matrix/media/v1/create', {
        method: 'OPTIONS',
        headers: { 'Access-Control-Request-Method': 'POST', Origin: 'https://example.org' },
      }),
    ]);
    expect(answers.map((r) => [r.status, r.headers.get('x-content-type-options')])).toEqual([
      [200, 'nosniff'],
      [404, 'nosniff'],
      [401, 'nosniff'],
      [204, 'nosniff'],
    ]);
  });
});
