/**
 * Every bad input gets its Matrix error, and nothing stored is lost or corrupted: the valid blocks
 * before a bad one are kept, byte for byte, on disk and in downloads. Plus the limits.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  P,
  createMedia,
  downloadUrl,
  getIndex,
  makeStream,
  sleep,
  streamingPut,
  useTestRelay,
  tusUrl,
  uploadUrl,
  wsUrl,
} from '../testing/relay-fixture.ts';
import { BAD_INPUT_MAX_BLOCK_LENGTH, blockCases, good } from '../testing/bad-input-cases.ts';
import { collect } from '../testing/ws-collector.ts';

const t = useTestRelay({ limits: { maxBlockLength: BAD_INPUT_MAX_BLOCK_LENGTH } });

interface MatrixError {
  errcode: string;
  error: string;
  'org.matrix.msc4016.reason'?: string;
}

describe('bad blocks', () => {
  for (const c of blockCases) {
    it(`${c.name} → ${c.status} ${c.errcode} (${c.reason}), valid blocks before it kept`, async () => {
      const m = await createMedia(t);
      const res = await fetch(uploadUrl(t, m), {
        method: 'PUT',
        headers: t.auth,
        body: new Uint8Array(c.body),
      });
      const err = (await res.json()) as MatrixError;
      expect(res.status).toBe(c.status);
      expect(err.errcode).toBe(c.errcode);
      expect(err['org.matrix.msc4016.reason']).toBe(c.reason);
      if (c.reason !== 'BAD_MAGIC') expect(err.error).toMatch(/block \d+ at offset \d+/);
      const idx = await getIndex(t, m);
      expect(idx.byte_length).toBe(c.kept.length);
      if (c.kept.length > 0) {
        expect(idx.state).toBe('live');
        const body = Buffer.from(
          await (
            await fetch(downloadUrl(t, m), { headers: { Range: `bytes=0-${c.kept.length - 1}` } })
          ).arrayBuffer(),
        );
        expect(body.equals(c.kept)).toBe(true);
        expect(readFileSync(join(t.dataDir, 'media', `${m.id}.mxc`)).equals(c.kept)).toBe(true);
      } else {
        expect(idx.state).toBe('pending');
      }
    });
  }
});

describe('bad requests', () => {
  it('wrong owner 403, bad token 401, missing token 401', async () => {
    const m = await createMedia(t);
    const cases: Array<[Record<string, string>, number, string]> = [
      [{ Authorization: `Bearer ${t.otherToken}` }, 403, 'M_FORBIDDEN'],
      [{ Authorization: 'Bearer mxct_not-a-token' }, 401, 'M_UNKNOWN_TOKEN'],
      [{}, 401, 'M_MISSING_TOKEN'],
    ];
    for (const [headers, status, errcode] of cases) {
      const res = await fetch(uploadUrl(t, m), { method: 'PUT', headers, body: good.bytes });
      expect([res.status, ((await res.json()) as MatrixError).errcode]).toEqual([status, errcode]);
      const tus = await fetch(tusUrl(t, m), {
        method: 'PATCH',
        headers: {
          ...headers,
          'Tus-Resumable': '1.0.0',
          'Upload-Offset': '0',
          'Content-Type': 'application/offset+octet-stream',
        },
        body: good.bytes,
      });
      expect(tus.status).toBe(status);
    }
    expect((await getIndex(t, m)).byte_length).toBe(0);
  });

  it('tus offset mismatch → 409 M_CONFLICT, bytes unchanged', async () => {
    const m = await createMedia(t);
    const h = {
      ...t.auth,
      'Tus-Resumable': '1.0.0',
      'Content-Type': 'application/offset+octet-stream',
    };
    const first = await fetch(tusUrl(t, m), {
      method: 'PATCH',
      headers: { ...h, 'Upload-Offset': '0' },
      body: good.bytes,
    });
    expect(first.status).toBe(204);
    expect(first.headers.get('upload-offset')).toBe(String(good.bytes.length));
    const wrong = await fetch(tusUrl(t, m), {
      method: 'PATCH',
      headers: { ...h, 'Upload-Offset': '10' },
      body: good.bytes,
    });
    expect(wrong.status).toBe(409);
    expect(((await wrong.json()) as MatrixError).errcode).toBe('M_CONFLICT');
    const badType = await fetch(tusUrl(t, m), {
      method: 'PATCH',
      headers: { ...h, 'Content-Type': 'text/plain', 'Upload-Offset': String(good.bytes.length) },
      body: 'x',
    });
    expect(badType.status).toBe(415);
    expect((await getIndex(t, m)).byte_length).toBe(good.bytes.length);
  });

  it('unknown media, malformed ids and path tricks → 404, nothing outside media/ is served', async () => {
    const m = await createMedia(t);
    const unknownId = 'A'.repeat(24);
    const paths = [
      `/_matrix/client/v1/media/download/localhost/${unknownId}`,
      `/_matrix/client/v1/media/download/other.server/${m.id}`,
      '/_matrix/client/v1/media/download/localhost/short',
      '/_matrix/client/v1/media/download/localhost/..%2F..%2Frelay.db',
      '/_matrix/client/v1/media/download/localhost/%2e%2e%2frelay.db0000000000000000000',
      `/_matrix/client/v1/media/download/localhost/${m.id}%00`,
      `/_matrix/client/v1/media/download/localhost/${'A'.repeat(22)}.mxc`,
      `${P}/index/localhost/..%2Frelay.db`,
      `${P}/hls/localhost/${unknownId}/playlist.m3u8`,
    ];
    for (const path of paths) {
      const res = await fetch(t.url + path);
      const body = (await res.json()) as MatrixError;
      expect([path, res.status, body.errcode]).toEqual([path, 404, 'M_NOT_FOUND']);
    }
    const traversal = await fetch(
      `${t.url}/_matrix/client/v1/media/download/localhost/../../relay.db`,
    );
    expect(traversal.status).toBe(404);
    const put = await fetch(`${t.url}/_matrix/media/v3/upload/localhost/..%2F..%2Fevil`, {
      method: 'PUT',
      headers: t.auth,
      body: good.bytes,
    });
    expect(put.status).toBe(404);
    const ws = collect(`${t.url.replace('http', 'ws')}${P}/ws/localhost/${unknownId}`);
    await expect(ws.opened).rejects.toThrow('404');
  });
});

describe('limits', () => {
  const small = useTestRelay({
    limits: {
      maxMediaBytes: 5000,
      maxLiveUploadsPerUser: 1,
      maxListenersPerStream: 2,
      maxLiveDurationMs: 300,
    },
    auth: { requireTokenForDownload: true },
  });

  it('stops a valid but endless stream at the media size limit with M_TOO_LARGE, keeping what fits', async () => {
    const m = await createMedia(small);
    const endless = makeStream(200, 100); // 23 KB of valid blocks against a 5000-byte limit
    const res = await fetch(uploadUrl(small, m), {
      method: 'PUT',
      headers: small.auth,
      body: endless.bytes,
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as MatrixError).errcode).toBe('M_TOO_LARGE');
    const idx = await fetch(`${small.url}${P}/index/${m.server}/${m.id}`, {
      headers: small.auth,
    }).then((r) => r.json() as Promise<{ byte_length: number; block_count: number }>);
    expect(idx.byte_length).toBeLessThanOrEqual(5000);
    expect(idx.byte_length).toBe(endless.offsets[idx.block_count]);
    expect(
      readFileSync(join(small.dataDir, 'media', `${m.id}.mxc`)).equals(
        endless.bytes.subarray(0, idx.byte_length),
      ),
    ).toBe(true);
  });

  it('refuses a second concurrent upload, a third listener, a download without a token, and a stream past its live duration', async () => {
    const m1 = await createMedia(small);
    const m2 = await createMedia(small);
    const s = makeStream(30, 40);
    const first = streamingPut(uploadUrl(small, m1), small.auth);
    first.push(s.bytes.subarray(0, s.offsets[2]));
    await sleep(100);
    const second = await fetch(uploadUrl(small, m2), {
      method: 'PUT',
      headers: small.auth,
      body: s.bytes,
    });
    expect([second.status, ((await second.json()) as MatrixError).errcode]).toEqual([
      429,
      'M_LIMIT_EXCEEDED',
    ]);

    const anon = await fetch(downloadUrl(small, m1));
    expect([anon.status, ((await anon.json()) as MatrixError).errcode]).toEqual([
      401,
      'M_MISSING_TOKEN',
    ]);
    const q = `?access_token=${small.token}`;
    const l1 = collect(wsUrl(small, 'ws', m1, q));
    const l2 = collect(wsUrl(small, 'ws', m1, q));
    await Promise.all([l1.opened, l2.opened]);
    const l3 = collect(wsUrl(small, 'ws', m1, q));
    await expect(l3.opened).rejects.toThrow('429');

    await sleep(350);
    first.push(s.bytes.subarray(s.offsets[2]));
    const res = await first.response;
    expect([res.status, ((await res.json()) as MatrixError).errcode]).toEqual([
      429,
      'M_LIMIT_EXCEEDED',
    ]);
    l1.ws.close();
    l2.ws.close();
  });
});
