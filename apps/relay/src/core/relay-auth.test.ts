/**
 * Who may do what: `?access_token=` only on the WebSocket paths (refused with M_MISSING_TOKEN
 * elsewhere, not silently ignored), /metrics as private as downloads, and a token revoked while the
 * relay runs refused on the next request.
 */
import { describe, expect, it } from 'vitest';
import {
  createMedia,
  downloadUrl,
  indexUrl,
  makeStream,
  tusUrl,
  uploadUrl,
  useTestRelay,
  wsUrl,
} from '../testing/relay-fixture.ts';
import { collect } from '../testing/ws-collector.ts';
import { createToken, listTokens, revokeTokens } from './token-store.ts';

type MatrixError = { errcode: string; 'org.matrix.msc4016.reason'?: string };

describe('access_token in the query', () => {
  const t = useTestRelay();

  it('is refused on every HTTP route, with a reason, even a valid one', async () => {
    const m = await createMedia(t);
    const q = `?access_token=${t.token}`;
    const cases: Array<[string, string, RequestInit]> = [
      ['create', `${t.url}/_matrix/media/v1/create${q}`, { method: 'POST' }],
      [
        'PUT',
        `${uploadUrl(t, m)}${q}`,
        { method: 'PUT', body: new Uint8Array(makeStream(1).bytes) },
      ],
      ['tus HEAD', `${tusUrl(t, m)}${q}`, { method: 'HEAD' }],
      ['tus DELETE', `${tusUrl(t, m)}${q}`, { method: 'DELETE' }],
      ['download', `${downloadUrl(t, m)}${q}`, {}],
      ['index', `${indexUrl(t, m)}${q}`, {}],
      ['metrics', `${t.url}/metrics${q}`, {}],
    ];
    for (const [name, url, init] of cases) {
      const res = await fetch(url, init);
      expect([name, res.status]).toEqual([name, 401]);
      if (init.method !== 'HEAD') {
        expect([name, await res.json()]).toEqual([
          name,
          expect.objectContaining({
            errcode: 'M_MISSING_TOKEN',
            'org.matrix.msc4016.reason': 'QUERY_TOKEN_REFUSED',
          }),
        ]);
      }
    }
    // Nothing above changed the media: still pending, still there.
    const idx = (await (await fetch(indexUrl(t, m))).json()) as { state: string };
    expect(idx.state).toBe('pending');
  });

  it('is accepted on the WebSocket upload and listen paths', async () => {
    const m = await createMedia(t);
    const up = collect(wsUrl(t, 'upload/ws', m, `?access_token=${t.token}`));
    await up.opened;
    const listen = collect(wsUrl(t, 'ws', m, `?access_token=${t.token}`));
    await listen.opened;
    up.ws.close();
    listen.ws.close();
    await Promise.all([up.closed, listen.closed]);
  });
});

describe('with auth.requireTokenForDownload', () => {
  const t = useTestRelay({ auth: { requireTokenForDownload: true } });

  it('/metrics needs a token like downloads; /health stays open', async () => {
    const anonymous = await fetch(`${t.url}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as MatrixError).errcode).toBe('M_MISSING_TOKEN');
    const unknown = await fetch(`${t.url}/metrics`, {
      headers: { Authorization: 'Bearer mxct_nope' },
    });
    expect(((await unknown.json()) as MatrixError).errcode).toBe('M_UNKNOWN_TOKEN');
    const ok = await fetch(`${t.url}/metrics`, { headers: t.auth });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('mxcast_live_streams');
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
  });
});

describe('token revoke on a running relay', () => {
  const t = useTestRelay();

  it('a revoked token is refused on the next request; the others keep working', async () => {
    const carol = createToken(t.dataDir, '@carol:localhost');
    const carol2 = createToken(t.dataDir, '@carol:localhost');
    const create = (token: string) =>
      fetch(`${t.url}/_matrix/media/v1/create`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` },
      });
    expect((await create(carol)).status).toBe(200);
    expect(revokeTokens(t.dataDir, { token: carol })).toBe(1);
    const refused = await create(carol);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as MatrixError).errcode).toBe('M_UNKNOWN_TOKEN');
    expect((await create(carol2)).status).toBe(200);
    expect((await create(t.token)).status).toBe(200);

    // By id (as `token list` shows it), then every token of a user.
    const listed = listTokens(t.dataDir);
    expect(listed.map((x) => x.userId).sort()).toEqual([
      '@alice:localhost',
      '@bob:localhost',
      '@carol:localhost',
    ]);
    for (const x of listed) expect(x.id).toMatch(/^[0-9a-f]{8}$/);
    const bob = listed.find((x) => x.userId === '@bob:localhost');
    expect(revokeTokens(t.dataDir, { id: bob?.id ?? '' })).toBe(1);
    const bobNow = await fetch(`${t.url}/_matrix/media/v1/create`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${t.otherToken}` },
    });
    expect(bobNow.status).toBe(401);
    expect(revokeTokens(t.dataDir, { userId: '@carol:localhost' })).toBe(1);
    expect((await create(carol2)).status).toBe(401);
    expect(revokeTokens(t.dataDir, { userId: '@nobody:localhost' })).toBe(0);
  });
});
