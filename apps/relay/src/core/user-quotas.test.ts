/**
 * Per-user quotas on a real relay (docs/operations.md): pending ids, live media, stored media and
 * stored bytes, each refused with its errcode and reason, other users unaffected; and what the
 * quotas rest on — pending ids cost no memory, the group flush visits only media appended to.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  P,
  createMedia,
  getIndex,
  makeStream,
  streamingPut,
  until,
  uploadUrl,
  useTestRelay,
  wsUrl,
  type TestRelay,
} from '../testing/relay-fixture.ts';
import WebSocket from 'ws';
import { createRelayApp } from '../app/relay-app.ts';
import { resolveConfig } from './relay-config.ts';
import { RelayCore } from './relay-core.ts';
import { issueToken } from './token-store.ts';

interface Answer {
  status: number;
  errcode?: string;
  error?: string;
  reason?: string;
}

async function answer(res: Response): Promise<Answer> {
  const body = (await res.json()) as Record<string, string>;
  return {
    status: res.status,
    errcode: body.errcode,
    error: body.error,
    reason: body['org.matrix.msc4016.reason'],
  };
}

/** A quota refusal (docs/operations.md): status, errcode, reason, and the limit named in the error. */
function expectQuotaRefusal(
  refused: Answer,
  status: number,
  errcode: string,
  reason: string,
  limit: string,
): void {
  expect(refused).toMatchObject({ status, errcode, reason });
  expect(refused.error).toContain(limit);
}

async function tryCreate(t: TestRelay, token = t.token): Promise<Answer> {
  return answer(
    await fetch(`${t.url}/_matrix/media/v1/create`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}` },
    }),
  );
}

async function put(
  t: TestRelay,
  m: { server: string; id: string },
  bytes: Uint8Array<ArrayBuffer>,
) {
  return fetch(uploadUrl(t, m), { method: 'PUT', headers: t.auth, body: bytes });
}

async function remove(t: TestRelay, m: { server: string; id: string }) {
  const res = await fetch(`${t.url}${P}/media/${m.server}/${m.id}`, {
    method: 'DELETE',
    headers: t.auth,
  });
  expect(res.status).toBe(200);
}

describe('maxPendingMediaPerUser', () => {
  const t = useTestRelay({ limits: { maxPendingMediaPerUser: 3 } });

  it('refuses the creates past the quota with 429, per user, until an id is used', async () => {
    const ids = [await createMedia(t), await createMedia(t), await createMedia(t)];
    const refused = await tryCreate(t);
    expectQuotaRefusal(
      refused,
      429,
      'M_LIMIT_EXCEEDED',
      'PENDING_MEDIA_QUOTA',
      'limits.maxPendingMediaPerUser = 3',
    );
    // The tus creation is the same create.
    const tus = await fetch(`${t.url}${P}/tus`, {
      method: 'POST',
      headers: { ...t.auth, 'Tus-Resumable': '1.0.0', 'Upload-Defer-Length': '1' },
    });
    expect(tus.status).toBe(429);
    // Another user has a quota of their own.
    expect((await tryCreate(t, t.otherToken)).status).toBe(200);
    // An id that got its bytes is no longer pending.
    expect((await put(t, ids[0]!, makeStream(3).bytes)).status).toBe(200);
    expect((await tryCreate(t)).status).toBe(200);
    expect((await tryCreate(t)).status).toBe(429);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/mxcast_quota_refusals_total\{limit="maxPendingMediaPerUser"\} 3/);
  });
});

describe('maxLiveMediaPerUser and maxStoredMediaPerUser', () => {
  const t = useTestRelay({ limits: { maxLiveMediaPerUser: 2, maxStoredMediaPerUser: 3 } });

  it('refuses the first byte of a third live media, storing nothing of it', async () => {
    const live = [await createMedia(t), await createMedia(t)];
    const cut = live.map((m) => {
      const p = streamingPut(uploadUrl(t, m), t.auth);
      p.push(makeStream(2).bytes);
      return p;
    });
    for (const m of live)
      await until(async () => (await getIndex(t, m)).state === 'live', 5000, 'live');
    const third = await createMedia(t);
    const refused = await answer(await put(t, third, makeStream(3).bytes));
    expectQuotaRefusal(
      refused,
      429,
      'M_LIMIT_EXCEEDED',
      'LIVE_MEDIA_QUOTA',
      'limits.maxLiveMediaPerUser = 2',
    );
    expect(await getIndex(t, third)).toMatchObject({ state: 'pending', byte_length: 0 });
    // Completing one live media frees a live slot.
    cut[0]!.end();
    expect((await cut[0]!.response).status).toBe(200);
    expect((await put(t, third, makeStream(3).bytes)).status).toBe(200);
    cut[1]!.end();
    expect((await cut[1]!.response).status).toBe(200);
  });

  it('refuses a create once the user stores maxStoredMediaPerUser media, until one is deleted', async () => {
    // The previous test left three stored media.
    const refused = await tryCreate(t);
    expectQuotaRefusal(
      refused,
      429,
      'M_LIMIT_EXCEEDED',
      'STORED_MEDIA_QUOTA',
      'limits.maxStoredMediaPerUser = 3',
    );
    expect((await tryCreate(t, t.otherToken)).status).toBe(200);
  });
});

describe('maxStoredBytesPerUser', () => {
  // Blocks of 16 + 100 bytes: the first media stores 4 + 10 × 116 = 1164 bytes.
  const t = useTestRelay({ limits: { maxStoredBytesPerUser: 2000 } });

  it('stops an upload at the block that would pass the quota, keeping the blocks that fit', async () => {
    const first = await createMedia(t);
    expect((await put(t, first, makeStream(10).bytes)).status).toBe(200);
    const second = await createMedia(t);
    const s = makeStream(10);
    const refused = await answer(await put(t, second, s.bytes));
    expectQuotaRefusal(
      refused,
      413,
      'M_TOO_LARGE',
      'STORED_BYTES_QUOTA',
      'limits.maxStoredBytesPerUser = 2000',
    );
    // 2000 − 1164 = 836 bytes left: the magic and 7 blocks (816 bytes) fit, the 8th does not.
    const idx = await getIndex(t, second);
    expect(idx).toMatchObject({ state: 'live', byte_length: 4 + 7 * 116, block_count: 7 });
    const stored = await (
      await fetch(`${t.url}/_matrix/client/v1/media/download/${second.server}/${second.id}`, {
        headers: { Range: 'bytes=0-815' },
      })
    ).arrayBuffer();
    expect(Buffer.from(stored).equals(s.bytes.subarray(0, 816))).toBe(true);

    // Deleting the first media gives its bytes back: the upload resumes where it stopped.
    await remove(t, first);
    const resumed = await fetch(uploadUrl(t, second), {
      method: 'PUT',
      headers: { ...t.auth, 'Content-Range': 'bytes 816-*/*' },
      body: s.bytes.subarray(816),
    });
    expect(resumed.status).toBe(200);
    expect(await getIndex(t, second)).toMatchObject({ state: 'complete', byte_length: 1164 });
  });
});

describe('quotas over every upload transport', () => {
  const t = useTestRelay({ limits: { maxLiveMediaPerUser: 1, maxStoredBytesPerUser: 1000 } });

  it('tus PATCH stops at the byte quota, keeping the blocks that fit; a WebSocket upload is refused the live quota', async () => {
    const m = await createMedia(t);
    const s = makeStream(10);
    const tus = `${t.url}${P}/tus/${m.server}/${m.id}`;
    const tusHeaders = { ...t.auth, 'Tus-Resumable': '1.0.0' };
    expect(
      (await fetch(tus, { method: 'POST', headers: { ...tusHeaders, 'Upload-Defer-Length': '1' } }))
        .status,
    ).toBe(201);
    const patch = await fetch(tus, {
      method: 'PATCH',
      headers: {
        ...tusHeaders,
        'Content-Type': 'application/offset+octet-stream',
        'Upload-Offset': '0',
      },
      body: s.bytes,
    });
    const refused = await answer(patch);
    expect(refused).toMatchObject({ status: 413, reason: 'STORED_BYTES_QUOTA' });
    // 4 + 8 × 116 = 932 bytes fit in 1000; the 9th block does not.
    const head = await fetch(tus, { method: 'HEAD', headers: tusHeaders });
    expect(head.headers.get('upload-offset')).toBe(String(4 + 8 * 116));

    // That media is live: a second one may not start, over the WebSocket upload either — refused
    // before the handshake, as a plain HTTP 429 with the Matrix error JSON.
    const second = await createMedia(t);
    const up = new WebSocket(wsUrl(t, 'upload/ws', second, `?access_token=${t.token}`));
    const refusal = await new Promise<{ status: number; nosniff: unknown; body: unknown }>(
      (resolve, reject) => {
        up.once('open', () => reject(new Error('handshake accepted')));
        up.once('unexpected-response', (_req, res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              nosniff: res.headers['x-content-type-options'],
              body: JSON.parse(text),
            }),
          );
        });
      },
    );
    up.on('error', () => {});
    expect(refusal).toEqual({
      status: 429,
      nosniff: 'nosniff',
      body: expect.objectContaining({
        errcode: 'M_LIMIT_EXCEEDED',
        'org.matrix.msc4016.reason': 'LIVE_MEDIA_QUOTA',
      }) as unknown,
    });
    expect(await getIndex(t, second)).toMatchObject({ state: 'pending', byte_length: 0 });
  });
});

describe('what the quotas cost', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mxcast-quota-'));
  const limits = { maxPendingMediaPerUser: 1_000_000 };
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('keeps no record of an unused id, loads it when used, and not at start', async () => {
    let core = new RelayCore(resolveConfig({ dataDir, limits }));
    core.store.start();
    const ids: string[] = [];
    for (let i = 0; i < 2000; i++) ids.push(core.store.create('@alice:localhost', null).id);
    expect(core.store.recordsInMemory).toBe(0);
    expect(core.store.dirtyCount).toBe(0);
    const used = core.store.require('localhost', ids[7]!);
    expect(used.state).toBe('pending');
    expect(core.store.recordsInMemory).toBe(1);
    await core.close();

    core = new RelayCore(resolveConfig({ dataDir, limits }));
    core.store.start();
    expect(core.store.recordsInMemory).toBe(0);
    expect(core.store.require('localhost', ids[1999]!).unusedExpiresAt).toBeGreaterThan(Date.now());
    await core.close();
  });

  it('drops a pending record nobody waits on after a minute unused, keeping one waited on', async () => {
    const core = new RelayCore(resolveConfig({ dataDir, limits }));
    core.store.start();
    const evictIdle = () => (core.store as unknown as { evictIdle(): void }).evictIdle();
    const a = core.store.create('@carol:localhost', null).id;
    const b = core.store.create('@carol:localhost', null).id;
    const recA = core.store.require('localhost', a);
    const recB = core.store.require('localhost', b);
    recB.changeWaiters.add(() => {}); // a download waiting with timeout_ms for its first byte
    evictIdle();
    expect(core.store.recordsInMemory).toBe(2); // used just now
    recA.lastAccess = recB.lastAccess = Date.now() - 61_000;
    evictIdle();
    expect(core.store.recordsInMemory).toBe(1);
    // Its row is all there was: asked for again, it is read back as it was.
    expect(core.store.require('localhost', a)).toMatchObject({ id: a, state: 'pending' });
    expect(core.store.require('localhost', a)).not.toBe(recA);
    await core.close();
  });

  it('flushes only the media appended to, however many the relay knows', async () => {
    // No timer flush during the test: flushAll() is called by hand.
    const core = new RelayCore(resolveConfig({ dataDir, limits, flushIntervalMs: 3_600_000 }));
    core.store.start();
    const app = createRelayApp(core);
    const auth = { Authorization: `Bearer ${issueToken(core.db, '@bob:localhost')}` };
    const created = await app.request('/_matrix/media/v1/create', {
      method: 'POST',
      headers: auth,
    });
    const mxc = ((await created.json()) as { content_uri: string }).content_uri;
    const id = mxc.slice(mxc.lastIndexOf('/') + 1);
    expect(core.store.dirtyCount).toBe(0);
    const s = makeStream(5);
    const res = await app.request(`/_matrix/media/v3/upload/localhost/${id}`, {
      method: 'PUT',
      headers: auth,
      body: s.bytes,
    });
    expect(res.status).toBe(200);
    // 2000 pending ids from the test before, one media written: one record to flush.
    expect(core.store.dirtyCount).toBe(1);
    await core.store.flushAll();
    expect(core.store.dirtyCount).toBe(0);
    expect(core.db.getMedia(id)?.byte_length).toBe(s.bytes.length);
    await core.close();
  });
});
