/**
 * The HTTP surface against a real relay on 127.0.0.1: create, streaming PUT, download with Range
 * (complete and growing), timeout_ms, index, sha256, delete, HLS, health and metrics.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  P,
  createMedia,
  downloadUrl,
  getIndex,
  makeStream,
  putFrom,
  streamingPut,
  useTestRelay,
  until,
  uploadUrl,
} from '../testing/relay-fixture.ts';

const t = useTestRelay();

describe('create', () => {
  it('returns a random mxc id of at least 128 bits and an expiry', async () => {
    const before = Date.now();
    const res = await fetch(`${t.url}/_matrix/media/v1/create`, {
      method: 'POST',
      headers: t.auth,
    });
    const body = (await res.json()) as { content_uri: string; unused_expires_at: number };
    expect(res.status).toBe(200);
    expect(body.content_uri).toMatch(/^mxc:\/\/localhost\/[A-Za-z0-9_-]{22,}$/);
    expect(body.unused_expires_at).toBeGreaterThan(before);
    const other = await createMedia(t);
    expect(other.mxc).not.toBe(body.content_uri);
  });

  it('needs a token and rejects a malformed geometry', async () => {
    const res = await fetch(`${t.url}/_matrix/media/v1/create`, { method: 'POST' });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { errcode: string }).errcode).toBe('M_MISSING_TOKEN');
    const bad = await fetch(`${t.url}/_matrix/media/v1/create`, {
      method: 'POST',
      headers: t.auth,
      body: JSON.stringify({ 'org.matrix.msc4016.geometry': { frame_ms: -1 } }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errcode: string }).errcode).toBe('M_INVALID_PARAM');
  });
});

describe('upload and download', () => {
  it('completes a PUT, serves the bytes with sha256, ETag and immutable cache headers', async () => {
    const m = await createMedia(t);
    const s = makeStream(20, 300);
    const put = await fetch(uploadUrl(t, m), { method: 'PUT', headers: t.auth, body: s.bytes });
    const body = (await put.json()) as { sha256: string; content_uri: string };
    expect(put.status).toBe(200);
    const expected = createHash('sha256').update(s.bytes).digest('base64').replace(/=+$/, '');
    expect(body.sha256).toBe(expected);
    expect(body.content_uri).toBe(m.mxc);

    const res = await fetch(downloadUrl(t, m) + '/name.mxc');
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(s.bytes)).toBe(true);
    expect(res.headers.get('cache-control')).toContain('immutable');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    const etag = res.headers.get('etag') ?? '';
    expect(etag).toContain(expected);
    const again = await fetch(downloadUrl(t, m), { headers: { 'If-None-Match': etag } });
    expect(again.status).toBe(304);

    const idx = await getIndex(t, m);
    expect(idx).toMatchObject({
      state: 'complete',
      byte_length: s.bytes.length,
      block_count: 20,
      sha256: expected,
    });
    expect(idx.header_end).toBe(s.offsets[2]);

    const again409 = await fetch(uploadUrl(t, m), {
      method: 'PUT',
      headers: t.auth,
      body: s.bytes,
    });
    expect(again409.status).toBe(409);
    expect(((await again409.json()) as { errcode: string }).errcode).toBe(
      'M_CANNOT_OVERWRITE_MEDIA',
    );
  });

  it('answers Range on complete media, and 416 past the end', async () => {
    const m = await createMedia(t);
    const s = makeStream(5, 50);
    await (await fetch(uploadUrl(t, m), { method: 'PUT', headers: t.auth, body: s.bytes })).text();
    const total = s.bytes.length;
    const r1 = await fetch(downloadUrl(t, m), { headers: { Range: 'bytes=10-19' } });
    expect(r1.status).toBe(206);
    expect(r1.headers.get('content-range')).toBe(`bytes 10-19/${total}`);
    expect(Buffer.from(await r1.arrayBuffer()).equals(s.bytes.subarray(10, 20))).toBe(true);
    const r2 = await fetch(downloadUrl(t, m), { headers: { Range: 'bytes=-7' } });
    expect(Buffer.from(await r2.arrayBuffer()).equals(s.bytes.subarray(total - 7))).toBe(true);
    const r3 = await fetch(downloadUrl(t, m), { headers: { Range: `bytes=${total}-` } });
    expect(r3.status).toBe(416);
    expect(r3.headers.get('content-range')).toBe(`bytes */${total}`);
    expect(((await r3.json()) as { errcode: string }).errcode).toBe('M_RANGE_NOT_SATISFIABLE');
  });

  it('streams a growing file: open-ended Range from a past offset and from beyond the end, live', async () => {
    const m = await createMedia(t);
    const s = makeStream(30, 200);
    const put = streamingPut(uploadUrl(t, m), t.auth);
    const firstPart = s.offsets[10] as number;
    put.push(s.bytes.subarray(0, firstPart));
    await until(async () => (await getIndex(t, m)).block_count === 10, 5000, '10 blocks stored');

    const whole = await fetch(downloadUrl(t, m));
    expect(whole.status).toBe(200);
    expect(whole.headers.get('cache-control')).toBe('no-store');
    expect(whole.headers.get('content-length')).toBeNull();
    const fromMiddle = await fetch(downloadUrl(t, m), { headers: { Range: 'bytes=100-' } });
    expect(fromMiddle.status).toBe(206);
    expect(fromMiddle.headers.get('content-range')).toBe('bytes 100-*/*');
    const ahead = (s.offsets[20] as number) + 5;
    const fromAhead = await fetch(downloadUrl(t, m), { headers: { Range: `bytes=${ahead}-` } });
    const closed = await fetch(downloadUrl(t, m), {
      headers: { Range: `bytes=${firstPart - 10}-${firstPart + 9}` },
    });
    expect(closed.status).toBe(206);

    // The rest arrives slowly, block by block, while the downloads are open.
    for (let i = 10; i < 30; i++) {
      put.push(s.blocks[i] as Uint8Array);
      await new Promise((r) => setTimeout(r, 5));
    }
    put.end();
    expect((await put.response).status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer()).equals(s.bytes)).toBe(true);
    expect(Buffer.from(await fromMiddle.arrayBuffer()).equals(s.bytes.subarray(100))).toBe(true);
    expect(Buffer.from(await fromAhead.arrayBuffer()).equals(s.bytes.subarray(ahead))).toBe(true);
    expect(
      Buffer.from(await closed.arrayBuffer()).equals(
        s.bytes.subarray(firstPart - 10, firstPart + 10),
      ),
    ).toBe(true);
  });

  it('keeps the blocks of a cut-off PUT and continues with Content-Range', async () => {
    const m = await createMedia(t);
    const s = makeStream(12, 100);
    const put = streamingPut(uploadUrl(t, m), t.auth);
    const cut = (s.offsets[6] as number) + 20; // inside block 6
    put.push(s.bytes.subarray(0, cut));
    await until(async () => (await getIndex(t, m)).block_count === 6, 5000, '6 blocks');
    put.abort();
    await put.response.catch(() => undefined);
    await until(
      async () => {
        const head = await fetch(`${t.url}${P}/tus/${m.server}/${m.id}`, {
          method: 'HEAD',
          headers: { ...t.auth, 'Tus-Resumable': '1.0.0' },
        });
        return (
          head.headers.get('upload-offset') === String(s.offsets[6]) &&
          head.headers.get('cache-control') === 'no-store'
        );
      },
      5000,
      'HEAD at the block boundary',
    );
    expect((await getIndex(t, m)).state).toBe('live');

    const wrong = await putFrom(t, m, s.bytes, 5);
    expect(wrong.status).toBe(409);
    expect(((await wrong.json()) as { errcode: string }).errcode).toBe('M_CONFLICT');
    const at = s.offsets[6] as number;
    const rest = await putFrom(t, m, s.bytes, at);
    expect(rest.status).toBe(200);
    const got = Buffer.from(await (await fetch(downloadUrl(t, m))).arrayBuffer());
    expect(got.equals(s.bytes)).toBe(true);
  });

  it('lets a resumed upload take over from one whose connection never reported its end', async () => {
    const m = await createMedia(t);
    const s = makeStream(10, 100);
    const stale = streamingPut(uploadUrl(t, m), t.auth); // half-open: never ends, never errors
    stale.push(s.bytes.subarray(0, s.offsets[5]));
    await until(async () => (await getIndex(t, m)).block_count === 5, 5000, '5 blocks');
    const at = s.offsets[5] as number;
    const resumed = await putFrom(t, m, s.bytes, at);
    expect(resumed.status).toBe(200);
    // The old request is stopped: answered 409 if it can still hear it, or cut.
    const staleOutcome = await stale.response.then(
      (r) => r.status,
      () => 'cut',
    );
    expect([409, 'cut']).toContain(staleOutcome);
    const got = Buffer.from(await (await fetch(downloadUrl(t, m))).arrayBuffer());
    expect(got.equals(s.bytes)).toBe(true);
  });

  it('waits timeout_ms for a media not yet uploaded, then 504 M_NOT_YET_UPLOADED', async () => {
    const m = await createMedia(t);
    const started = Date.now();
    const res = await fetch(downloadUrl(t, m) + '?timeout_ms=150');
    expect(res.status).toBe(504);
    expect(((await res.json()) as { errcode: string }).errcode).toBe('M_NOT_YET_UPLOADED');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);

    const waiting = fetch(downloadUrl(t, m) + '?timeout_ms=5000');
    const s = makeStream(3, 40);
    await (await fetch(uploadUrl(t, m), { method: 'PUT', headers: t.auth, body: s.bytes })).text();
    const res2 = await waiting;
    expect(res2.status).toBe(200);
    expect(Buffer.from(await res2.arrayBuffer()).equals(s.bytes)).toBe(true);
  });

  it('lets the owner cancel a live upload (listeners end) and delete complete media', async () => {
    const m = await createMedia(t);
    const s = makeStream(4, 40);
    const put = streamingPut(uploadUrl(t, m), t.auth);
    put.push(s.bytes.subarray(0, s.offsets[2]));
    await until(async () => (await getIndex(t, m)).block_count === 2, 5000, '2 blocks');
    const listening = fetch(downloadUrl(t, m)).then((r) => r.arrayBuffer());
    await until(async () => (await getIndex(t, m)).listeners === 1, 5000, 'listener');
    const notOwner = await fetch(`${t.url}${P}/media/${m.server}/${m.id}`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${t.otherToken}` },
    });
    expect(notOwner.status).toBe(403);
    const del = await fetch(`${t.url}${P}/media/${m.server}/${m.id}`, {
      method: 'DELETE',
      headers: t.auth,
    });
    expect(del.status).toBe(200);
    await expect(listening).rejects.toThrow();
    expect((await getIndex(t, m)).state).toBe('cancelled');
    put.abort();
    await put.response.catch(() => undefined);

    const m2 = await createMedia(t);
    await (
      await fetch(uploadUrl(t, m2), { method: 'PUT', headers: t.auth, body: makeStream(3).bytes })
    ).text();
    expect(
      (
        await fetch(`${t.url}${P}/media/${m2.server}/${m2.id}`, {
          method: 'DELETE',
          headers: t.auth,
        })
      ).status,
    ).toBe(200);
    expect((await fetch(downloadUrl(t, m2))).status).toBe(404);
  });
});

describe('HLS view', () => {
  it('lists whole ~2 s segments of whole blocks while live and ENDLIST once complete', async () => {
    const geometry = {
      frame_ms: 20,
      frames_per_block: 12,
      bitrate: 32000,
      block_size: 116,
      sample_rate: 48000,
      channels: 1,
    };
    const m = await createMedia(t, geometry);
    const s = makeStream(2 + 8 * 3 + 5, 100); // headers + 3 segments of 8 blocks (8 × 240 ms) + 5
    const url = `${t.url}${P}/hls/${m.server}/${m.id}/playlist.m3u8`;
    const put = streamingPut(uploadUrl(t, m), t.auth);
    put.push(s.bytes);
    await until(
      async () => (await getIndex(t, m)).block_count === s.blocks.length,
      5000,
      'all blocks',
    );
    const live = await (await fetch(url)).text();
    expect(live).toContain('#EXT-X-PLAYLIST-TYPE:EVENT');
    expect(live).toContain(
      `#EXT-X-MAP:URI="/_matrix/client/v1/media/download/${m.server}/${m.id}",BYTERANGE="${s.offsets[2]}@0"`,
    );
    expect(live.match(/#EXTINF:1\.920,/g)).toHaveLength(3);
    expect(live).toContain(
      `#EXT-X-BYTERANGE:${(s.offsets[10] as number) - (s.offsets[2] as number)}@${s.offsets[2]}`,
    );
    expect(live).not.toContain('#EXT-X-ENDLIST');
    put.end();
    await put.response;
    const done = await fetch(url);
    const text = await done.text();
    expect(text).toContain('#EXTINF:1.200,');
    expect(text).toContain('#EXT-X-ENDLIST');
    expect(done.headers.get('cache-control')).toContain('immutable');
  });
});

describe('service', () => {
  it('answers /health and /metrics in Prometheus text', async () => {
    expect(await (await fetch(`${t.url}/health`)).json()).toEqual({ status: 'ok' });
    await fetch(`${t.url}/_matrix/nothing`);
    const text = await (await fetch(`${t.url}/metrics`)).text();
    expect(text).toMatch(/^mxcast_live_streams \d+$/m);
    expect(text).toMatch(/^mxcast_bytes_in_total [1-9]\d*$/m);
    expect(text).toMatch(/^mxcast_errors_total\{errcode="M_UNRECOGNIZED"\} [1-9]/m);
    expect(text).toMatch(/^mxcast_slow_listeners_total\{action="moved"\} \d+$/m);
  });
});
