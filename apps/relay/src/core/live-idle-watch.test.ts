/**
 * Interrupted broadcasts on a real relay with short limits: an upload that goes silent marks the
 * media interrupted (index and WebSocket status), a block from a resumed upload clears it, and
 * silence past maxIdleLiveMs ends the media as stored (complete, every stored block kept).
 */
import { describe, expect, it } from 'vitest';
import {
  createMedia,
  getIndex,
  makeStream,
  sleep,
  streamingPut,
  until,
  uploadUrl,
  useTestRelay,
  wsUrl,
} from '../testing/relay-fixture.ts';
import { collect } from '../testing/ws-collector.ts';

const INTERRUPTED_AFTER_MS = 300;
const MAX_IDLE_MS = 1500;

describe('live idle watch', () => {
  const t = useTestRelay({
    limits: { interruptedAfterMs: INTERRUPTED_AFTER_MS, maxIdleLiveMs: MAX_IDLE_MS },
  });

  it('marks a silent upload interrupted, clears it on resume, ends it after the max idle time', async () => {
    const m = await createMedia(t);
    const stream = makeStream(6);
    const first = stream.offsets[3] as number; // magic + blocks 0..2
    const put = streamingPut(uploadUrl(t, m), t.auth);
    put.push(new Uint8Array(stream.bytes.subarray(0, first)));
    // The relay counts silence from the last byte it received, which is after this push: timing
    // from the abort below instead made the mark look early when the steps between were slow.
    const silentFrom = Date.now();
    await until(async () => (await getIndex(t, m)).block_count === 3, 5000, '3 blocks');
    const listener = collect(wsUrl(t, 'ws', m));
    await listener.opened;
    expect((await getIndex(t, m)) as Record<string, unknown>).toMatchObject({
      state: 'live',
      interrupted: false,
    });

    // The broadcaster's connection dies: nothing more arrives.
    put.abort();
    await put.response.catch(() => undefined);
    await until(
      async () => ((await getIndex(t, m)) as { interrupted?: boolean }).interrupted === true,
      5000,
      'interrupted',
    );
    const markedAfter = Date.now() - silentFrom;
    expect(markedAfter).toBeGreaterThanOrEqual(INTERRUPTED_AFTER_MS - 50);
    expect(markedAfter).toBeLessThan(INTERRUPTED_AFTER_MS + 2000);
    await until(
      () => listener.messages.some((msg) => msg.type === 'status' && msg.interrupted === true),
      2000,
      'interrupted status to the listener',
    );

    // A resumed upload (Content-Range from the stored length) clears it at its first block.
    const resumed = streamingPut(uploadUrl(t, m), {
      ...t.auth,
      'Content-Range': `bytes ${first}-*/*`,
    });
    resumed.push(new Uint8Array(stream.bytes.subarray(first)));
    await until(async () => (await getIndex(t, m)).block_count === 6, 5000, '6 blocks');
    expect(((await getIndex(t, m)) as { interrupted?: boolean }).interrupted).toBe(false);
    const statuses = listener.messages.filter((msg) => msg.type === 'status');
    expect(statuses.at(-1)?.interrupted).toBe(false);

    // Silent again, connection left open: interrupted, then ended after maxIdleLiveMs, as stored.
    await until(async () => (await getIndex(t, m)).state === 'complete', MAX_IDLE_MS + 3000, 'end');
    const index = await getIndex(t, m);
    expect(index.block_count).toBe(6);
    expect(index.byte_length).toBe(stream.bytes.length);
    expect(index.sha256).not.toBeNull();
    expect((index as { interrupted?: boolean }).interrupted).toBeUndefined();
    await listener.closed;
    expect(listener.messages.at(-1)).toMatchObject({ type: 'end', state: 'complete' });
    expect(listener.blocks.length).toBeGreaterThanOrEqual(3);
    // The open upload was stopped: its response settles (an error or a refusal, not a hang).
    await resumed.response.then(
      (r) => r.arrayBuffer(),
      () => undefined,
    );

    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/mxcast_live_idle_total\{action="interrupted"\} 2/);
    expect(metrics).toMatch(/mxcast_live_idle_total\{action="ended"\} 1/);
  });
});

describe('live idle watch with long blocks', () => {
  const t = useTestRelay({
    limits: { interruptedAfterMs: INTERRUPTED_AFTER_MS, maxIdleLiveMs: 60_000 },
  });

  it('waits two declared block durations when blocks are longer than the limit', async () => {
    // 1 s blocks (50 × 20 ms): silence between two of them is not an interruption.
    const m = await createMedia(t, { frame_ms: 20, frames_per_block: 50, block_size: 116 });
    const stream = makeStream(4);
    const put = streamingPut(uploadUrl(t, m), t.auth);
    put.push(new Uint8Array(stream.bytes));
    await until(async () => (await getIndex(t, m)).block_count === 4, 5000, '4 blocks');
    const t0 = Date.now();
    await sleep(1200); // well past interruptedAfterMs (300 ms), under two blocks (2 s)
    expect(((await getIndex(t, m)) as { interrupted?: boolean }).interrupted).toBe(false);
    await until(
      async () => ((await getIndex(t, m)) as { interrupted?: boolean }).interrupted === true,
      3000,
      'interrupted after two blocks',
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
    put.abort();
    await put.response.catch(() => undefined);
  });
});
