import { generateEpoch } from '@mxcast/format';
import { EpochKeyRing, JOINED_WITHHELD_REASON } from '@mxcast/player';
import { describe, expect, it } from 'vitest';
import { hlsLiveStart } from './hls-live-start.ts';
import { seqAtSeconds, seqStartSeconds } from './hls-segment-plan.ts';

/** Voice: 240 ms blocks, 8 per segment. */
const voice = { frame_ms: 20, frames_per_block: 12 };

/** A `joined` newcomer's ring as ringFromFeed builds it: header epoch, withheld from 2, own epoch. */
function newcomerRing(own?: number): EpochKeyRing {
  const ring = new EpochKeyRing([generateEpoch(0)]);
  ring.withhold(2, JOINED_WITHHELD_REASON);
  if (own !== undefined) ring.add(generateEpoch(own));
  return ring;
}

/** The page's live edge while the relay holds `blockCount` blocks. */
const edgeAt = (blockCount: number) => seqStartSeconds(voice, blockCount);

describe('HLS live start for a joined newcomer (docs/matrix.md "Key epochs")', () => {
  it('maps the page live edge to block_count and a block to its time', () => {
    expect(seqAtSeconds(voice, edgeAt(40))).toBe(40);
    expect(seqStartSeconds(voice, 42)).toBeCloseTo(9.6, 9);
  });

  it('moves the start to the first block of its own epoch, once the relay holds it', async () => {
    const ring = newcomerRing(44);
    let blocks = 40; // the edge is in the withheld stretch; the own epoch starts ahead, at 44
    const grow = setInterval(() => blocks++, 30);
    const at = performance.now();
    const start = await hlsLiveStart({
      keys: ring,
      geometry: voice,
      liveEdge: () => edgeAt(blocks),
      signal: new AbortController().signal,
      pollMs: 10,
    });
    clearInterval(grow);
    expect(start).toEqual({ seq: 44, seconds: seqStartSeconds(voice, 44) });
    // It waited for the relay to hold block 44 (block_count past it), not longer than needed.
    expect(blocks).toBeGreaterThan(44);
    expect(performance.now() - at).toBeLessThan(5000);
  });

  it('waits for an own epoch announced after the start, then moves to it', async () => {
    const ring = newcomerRing();
    setTimeout(() => ring.add(generateEpoch(45)), 100);
    let blocks = 40;
    const grow = setInterval(() => blocks++, 20);
    const start = await hlsLiveStart({
      keys: ring,
      geometry: voice,
      liveEdge: () => edgeAt(blocks),
      signal: new AbortController().signal,
      pollMs: 10,
    });
    clearInterval(grow);
    expect(start?.seq).toBe(45);
  });

  it('leaves the start to hls.js when the edge is readable or nothing is withheld', async () => {
    const signal = new AbortController().signal;
    const past = newcomerRing(30); // own epoch already under way at the edge
    expect(
      await hlsLiveStart({ keys: past, geometry: voice, liveEdge: () => edgeAt(40), signal }),
    ).toBeNull();
    // A member withholds nothing: no wait, not even for the page's first index answer.
    const member = new EpochKeyRing([generateEpoch(0), generateEpoch(2), generateEpoch(20)]);
    const at = performance.now();
    expect(
      await hlsLiveStart({ keys: member, geometry: voice, liveEdge: () => null, signal }),
    ).toBeNull();
    expect(performance.now() - at).toBeLessThan(100);
  });

  it('gives up after the key wait (the edge then says NO_ACCESS) and at a stop', async () => {
    const ring = newcomerRing();
    const at = performance.now();
    expect(
      await hlsLiveStart({
        keys: ring,
        geometry: voice,
        liveEdge: () => edgeAt(40),
        signal: new AbortController().signal,
        keyWaitMs: 150,
      }),
    ).toBeNull();
    expect(performance.now() - at).toBeGreaterThanOrEqual(140);
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 50);
    const stopped = performance.now();
    expect(
      await hlsLiveStart({
        keys: newcomerRing(),
        geometry: voice,
        liveEdge: () => edgeAt(40),
        signal: stop.signal,
      }),
    ).toBeNull();
    expect(performance.now() - stopped).toBeLessThan(2000);
  });
});
