/**
 * Homeserver mode against a real HTTP server on loopback that answers whoami the way a Matrix
 * homeserver does (and, on demand, the ways a broken one does): tokens checked there, cached by
 * hash for the TTL, downloads need a token, unknown ids are 404 before any check, and a homeserver
 * that is down or answers garbage is a 502 with a reason, never an open door.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { collect } from '../testing/ws-collector.ts';
import { HomeserverAuth } from './homeserver-auth.ts';
import { RelayMetrics } from './relay-metrics.ts';
import {
  createMedia,
  downloadUrl,
  indexUrl,
  makeStream,
  until,
  uploadUrl,
  useTestRelay,
  wsUrl,
} from '../testing/relay-fixture.ts';

type Mode = 'ok' | 'error500' | 'garbage' | 'hang';

/** A whoami endpoint: `good-*` tokens belong to @<rest>:hs.test, others are unknown. */
function startFakeHomeserver() {
  const state = { mode: 'ok' as Mode, whoami: 0, server: null as Server | null, url: '' };
  const server = createServer((req, res) => {
    if (req.url !== '/_matrix/client/v3/account/whoami') {
      res.writeHead(404).end();
      return;
    }
    state.whoami++;
    if (state.mode === 'hang') return; // never answers: the relay's timeout must fire
    if (state.mode === 'error500') {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"errcode":"M_UNKNOWN"}');
      return;
    }
    if (state.mode === 'garbage') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('<html>proxy error</html>');
      return;
    }
    const m = /^Bearer good-(\w+)$/.exec(req.headers.authorization ?? '');
    if (!m) {
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end('{"errcode":"M_UNKNOWN_TOKEN","error":"Unknown access token"}');
      return;
    }
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ user_id: `@${m[1]}:hs.test`, device_id: 'D' }));
  });
  state.server = server;
  return state;
}

const hs = startFakeHomeserver();
let hsUrl = '';
beforeAll(async () => {
  await new Promise<void>((r) => hs.server?.listen(0, '127.0.0.1', r));
  hsUrl = `http://127.0.0.1:${(hs.server?.address() as AddressInfo).port}`;
});
afterAll(async () => {
  hs.server?.closeAllConnections();
  await new Promise((r) => hs.server?.close(r));
});
beforeEach(() => {
  hs.mode = 'ok';
});

const alice = { Authorization: 'Bearer good-alice' };

describe('homeserver mode', () => {
  const t = useTestRelay({
    serverName: 'hs.test',
    // The fixture's relay.db tokens must not work here: homeserver tokens only.
    get auth() {
      return { homeserver: hsUrl };
    },
    limits: {
      whoamiCacheTtlMs: 60_000,
      whoamiCacheMaxEntries: 3,
      homeserverTimeoutMs: 500,
      maxWhoamiInFlight: 2,
    },
  });

  // As the fixture's createMedia, with alice's homeserver token instead of the relay.db one.
  const createAsAlice = async () => {
    const res = await fetch(`${t.url}/_matrix/media/v1/create`, { method: 'POST', headers: alice });
    expect(res.status).toBe(200);
    const { content_uri: mxc } = (await res.json()) as { content_uri: string };
    const [server = '', id = ''] = mxc.slice('mxc://'.length).split('/');
    return { server, id };
  };

  it('creates and uploads with a homeserver token; the media is owned by its Matrix user', async () => {
    const m = await createAsAlice();
    expect(m.server).toBe('hs.test');
    const put = await fetch(uploadUrl(t, m), {
      method: 'PUT',
      headers: alice,
      body: new Uint8Array(makeStream(3).bytes),
    });
    expect(put.status).toBe(200);
    // Another user may not upload to it: the owner is @alice:hs.test.
    const bob = await fetch(uploadUrl(t, m), {
      method: 'PUT',
      headers: { Authorization: 'Bearer good-bob' },
      body: new Uint8Array(makeStream(1).bytes),
    });
    expect(bob.status).toBe(403);
  });

  it("refuses relay.db's own tokens and unknown tokens with 401 M_UNKNOWN_TOKEN", async () => {
    for (const token of [t.token, 'nope']) {
      const res = await fetch(`${t.url}/_matrix/media/v1/create`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { errcode: string }).errcode).toBe('M_UNKNOWN_TOKEN');
    }
  });

  it('downloads need a token; an unknown id is 404 before any token check', async () => {
    const m = await createAsAlice();
    await fetch(uploadUrl(t, m), {
      method: 'PUT',
      headers: alice,
      body: new Uint8Array(makeStream(2).bytes),
    });
    const anonymous = await fetch(downloadUrl(t, m));
    expect(anonymous.status).toBe(401);
    const unknown = await fetch(downloadUrl(t, { server: 'hs.test', id: 'A'.repeat(24) }));
    expect(unknown.status).toBe(404);
    const before = hs.whoami;
    const listener = { Authorization: 'Bearer good-carol' };
    for (let i = 0; i < 10; i++) {
      const res = await fetch(downloadUrl(t, m), { headers: listener });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    expect(hs.whoami - before).toBe(1); // ten downloads, one whoami: the rest from the cache
  });

  it('the WebSocket upload path takes the homeserver token as ?access_token=', async () => {
    const m = await createAsAlice();
    expect(await wsStatus(wsUrl(t, 'upload/ws', m, '?access_token=nope'))).toBe(401);
    // Another Matrix user's valid token opens no upload to alice's media.
    expect(await wsStatus(wsUrl(t, 'upload/ws', m, '?access_token=good-bob'))).toBe(403);
    const up = collect(wsUrl(t, 'upload/ws', m, '?access_token=good-alice'));
    await up.opened;
    up.ws.send(makeStream(4).bytes);
    // The index needs a token in this mode too.
    const blocks = async () =>
      ((await (await fetch(indexUrl(t, m), { headers: alice })).json()) as { block_count: number })
        .block_count;
    await until(async () => (await blocks()) === 4, 5000, '4 blocks');
    up.ws.close();
  });

  it('the WebSocket listen path takes the token as ?access_token=', async () => {
    const m = await createAsAlice();
    const refused = await wsStatus(wsUrl(t, 'ws', m));
    expect(refused).toBe(401);
    const ok = await wsStatus(wsUrl(t, 'ws', m, '?access_token=good-dave'));
    expect(ok).toBe(101);
  });

  it('a homeserver that fails, answers garbage or hangs gives 502 with a reason; it recovers', async () => {
    const cases: Array<[Mode, string]> = [
      ['error500', 'HOMESERVER_UNAVAILABLE'],
      ['garbage', 'HOMESERVER_BAD_ANSWER'],
      ['hang', 'HOMESERVER_UNAVAILABLE'],
    ];
    for (const [mode, reason] of cases) {
      hs.mode = mode;
      // A token not in the cache: its check must reach the homeserver.
      const res = await fetch(`${t.url}/_matrix/media/v1/create`, {
        method: 'POST',
        headers: { Authorization: `Bearer good-${mode}` },
      });
      expect(res.status, mode).toBe(502);
      const body = (await res.json()) as Record<string, string>;
      expect(body['org.matrix.msc4016.reason'], mode).toBe(reason);
    }
    hs.mode = 'ok';
    const res = await fetch(`${t.url}/_matrix/media/v1/create`, {
      method: 'POST',
      headers: { Authorization: 'Bearer good-error500' },
    });
    expect(res.status).toBe(200);
  });

  it('refuses token checks past maxWhoamiInFlight with 503 HOMESERVER_BUSY, at once', async () => {
    hs.mode = 'hang';
    const create = (name: string) =>
      fetch(`${t.url}/_matrix/media/v1/create`, {
        method: 'POST',
        headers: { Authorization: `Bearer good-${name}` },
      });
    // Two hang at the homeserver (the limit), the third is refused without waiting for them.
    const hanging = [create('f1'), create('f2')];
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    const third = await create('f3');
    expect(third.status).toBe(503);
    expect(await third.json()).toMatchObject({
      errcode: 'M_LIMIT_EXCEEDED',
      'org.matrix.msc4016.reason': 'HOMESERVER_BUSY',
    });
    expect(Date.now() - t0).toBeLessThan(300);
    for (const res of await Promise.all(hanging)) expect(res.status).toBe(502);
  });

  it('keeps at most whoamiCacheMaxEntries tokens', async () => {
    for (const name of ['u1', 'u2', 'u3', 'u4', 'u5']) {
      const res = await fetch(`${t.url}/_matrix/media/v1/create`, {
        method: 'POST',
        headers: { Authorization: `Bearer good-${name}` },
      });
      expect(res.status).toBe(200);
    }
    // u1 was evicted (the oldest of 3 kept): asking again costs a whoami; u5 is still cached.
    const before = hs.whoami;
    for (const name of ['u5', 'u1']) {
      await fetch(`${t.url}/_matrix/media/v1/create`, {
        method: 'POST',
        headers: { Authorization: `Bearer good-${name}` },
      });
    }
    expect(hs.whoami - before).toBe(1);
  });
});

describe('the whoami cache (HomeserverAuth)', () => {
  const limits = {
    whoamiCacheTtlMs: 300,
    whoamiCacheMaxEntries: 10,
    homeserverTimeoutMs: 500,
    maxWhoamiInFlight: 4,
  };

  it('answers a cached token synchronously, asks again once the TTL is over, never caches a refusal', async () => {
    const metrics = new RelayMetrics();
    const auth = new HomeserverAuth(hsUrl, limits, metrics);
    const before = hs.whoami;
    expect(auth.cachedUser('good-carol')).toBeUndefined();
    expect(await auth.userOf('good-carol')).toBe('@carol:hs.test');
    expect(hs.whoami - before).toBe(1);
    // The download path: a plain string, no promise, no request to the homeserver.
    for (let i = 0; i < 5; i++) expect(auth.cachedUser('good-carol')).toBe('@carol:hs.test');
    expect(await auth.userOf('good-carol')).toBe('@carol:hs.test');
    expect(hs.whoami - before).toBe(1);
    expect(metrics.whoami).toMatchObject({ requests: 1, cached: 6 });
    // A different token, even one differing in case only, is another cache entry.
    expect(auth.cachedUser('good-Carol')).toBeUndefined();
    // Past the TTL the entry is gone (a logout on the homeserver takes effect) and asked again.
    await new Promise((r) => setTimeout(r, limits.whoamiCacheTtlMs + 50));
    expect(auth.cachedUser('good-carol')).toBeUndefined();
    expect(auth.cacheSize).toBe(0);
    expect(await auth.userOf('good-carol')).toBe('@carol:hs.test');
    expect(hs.whoami - before).toBe(2);
    // A refused token costs a whoami every time: only a success is cached.
    await expect(auth.userOf('bad-dave')).rejects.toMatchObject({ code: 'M_UNKNOWN_TOKEN' });
    expect(auth.cachedUser('bad-dave')).toBeUndefined();
    await expect(auth.userOf('bad-dave')).rejects.toMatchObject({ code: 'M_UNKNOWN_TOKEN' });
    expect(hs.whoami - before).toBe(4);
  });
});

describe('standalone mode', () => {
  const t = useTestRelay();
  it('downloads stay anonymous', async () => {
    const m = await createMedia(t);
    await fetch(uploadUrl(t, m), {
      method: 'PUT',
      headers: t.auth,
      body: new Uint8Array(makeStream(2).bytes),
    });
    expect((await fetch(downloadUrl(t, m))).status).toBe(200);
  });
});

/** The HTTP status of a WebSocket handshake (101 when it upgraded). */
function wsStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}
