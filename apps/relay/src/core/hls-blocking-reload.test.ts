/**
 * Blocking playlist reload (RFC 8216bis §6.2.5.2) against a real relay: a request for the next
 * part is held until that block is stored and answered at once then; a hold is bounded by
 * limits.hlsBlockingReloadMs and by the media finishing; bad or far-future directives are
 * M_INVALID_PARAM at once.
 */
import { describe, expect, it } from 'vitest';
import {
  P,
  createMedia,
  getIndex,
  makeStream,
  streamingPut,
  until,
  uploadUrl,
  useTestRelay,
} from '../testing/relay-fixture.ts';

const HOLD_MS = 1500;
const t = useTestRelay({ limits: { hlsBlockingReloadMs: HOLD_MS } });
/** Voice: 240 ms blocks, one block per part, eight per segment. */
const VOICE = {
  frame_ms: 20,
  frames_per_block: 12,
  bitrate: 32000,
  block_size: 116,
  sample_rate: 48000,
  channels: 1,
};

async function liveMedia(blocks: number) {
  const m = await createMedia(t, VOICE);
  const s = makeStream(40, 100);
  const put = streamingPut(uploadUrl(t, m), t.auth);
  // The magic and `blocks` blocks now; more with send().
  let sent = blocks;
  put.push(s.bytes.subarray(0, s.offsets[blocks]));
  const stored = (n: number) =>
    until(async () => (await getIndex(t, m)).block_count === n, 5000, `${n} blocks`);
  await stored(blocks);
  return {
    m,
    url: `${t.url}${P}/hls/${m.server}/${m.id}/playlist.m3u8`,
    async send(n: number) {
      put.push(s.bytes.subarray(s.offsets[sent], s.offsets[sent + n] ?? s.bytes.length));
      sent += n;
      await stored(sent);
    },
    async end() {
      put.push(s.bytes.subarray(s.offsets[sent], s.offsets[sent + 1]));
      put.end();
      await put.response;
    },
  };
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${t.url}/metrics`, { headers: t.auth })).text();
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  if (!m) throw new Error(`no ${name} in /metrics`);
  return Number(m[1]);
}

const parts = (text: string) => text.match(/^#EXT-X-PART:/gm)?.length ?? 0;

describe('HLS blocking playlist reload', () => {
  it('holds a request for the next part until its block is stored, then answers at once', async () => {
    const media = await liveMedia(2 + 3); // headers + 3 blocks: parts 0–2 of segment 0
    expect(parts(await (await fetch(media.url)).text())).toBe(3);
    let answeredAt = 0;
    const held = fetch(`${media.url}?_HLS_msn=0&_HLS_part=4`).then(async (res) => {
      answeredAt = Date.now();
      return {
        status: res.status,
        text: await res.text(),
        cache: res.headers.get('cache-control'),
      };
    });
    await media.send(1); // part 3: not yet what was asked
    await new Promise((r) => setTimeout(r, 300));
    expect(answeredAt).toBe(0);
    expect(await metric('mxcast_hls_reloads_held')).toBe(1);
    const sentAt = Date.now();
    await media.send(1); // part 4
    const res = await held;
    expect(res.status).toBe(200);
    expect(await metric('mxcast_hls_reloads_held')).toBe(0);
    expect(parts(res.text)).toBe(5);
    expect(res.cache).toBe('no-cache');
    // Answered when the block came (the index poll above took part of this), not at the timeout.
    expect(answeredAt - sentAt).toBeLessThan(HOLD_MS - 500);
    // A part already there is answered without waiting.
    const t0 = Date.now();
    expect((await fetch(`${media.url}?_HLS_msn=0&_HLS_part=2`)).status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(HOLD_MS - 500);
    await media.end();
  });

  it('answers the current playlist after limits.hlsBlockingReloadMs, and at once when the media finishes', async () => {
    const media = await liveMedia(2 + 2);
    const t0 = Date.now();
    const timedOut = await fetch(`${media.url}?_HLS_msn=1`);
    const waited = Date.now() - t0;
    expect(timedOut.status).toBe(200);
    expect(await metric('mxcast_hls_reload_timeouts_total')).toBeGreaterThanOrEqual(1);
    expect(parts(await timedOut.text())).toBe(2);
    expect(waited).toBeGreaterThanOrEqual(HOLD_MS - 50);
    expect(waited).toBeLessThan(HOLD_MS + 3000);

    const held = fetch(`${media.url}?_HLS_msn=1&_HLS_part=0`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 200));
    const t1 = Date.now();
    await media.end();
    const text = await held;
    expect(text).toContain('#EXT-X-ENDLIST');
    expect(Date.now() - t1).toBeLessThan(HOLD_MS);
  });

  it('refuses a malformed directive or one more than two segments ahead (400 M_INVALID_PARAM)', async () => {
    const media = await liveMedia(2 + 1);
    for (const query of ['_HLS_part=1', '_HLS_msn=x', '_HLS_msn=0&_HLS_part=-1', '_HLS_msn=3']) {
      const res = await fetch(`${media.url}?${query}`);
      expect([query, res.status]).toEqual([query, 400]);
      expect(((await res.json()) as { errcode: string }).errcode).toBe('M_INVALID_PARAM');
    }
    // Two ahead is allowed (and held); the relay's playlist stays as it was.
    const t0 = Date.now();
    expect((await fetch(`${media.url}?_HLS_msn=2`)).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(HOLD_MS - 50);
    await media.end();
  });
});
