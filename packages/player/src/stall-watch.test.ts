/**
 * The stall watch's quiet schedule: a broadcast that stays quiet is asked about less and less
 * often, up to 8 × the answer timeout. The watch itself (a silent node left for another, a quiet
 * broadcast not taken for a stall) runs against real relays in tests/player/listen-silent-node.
 */
import { describe, expect, it } from 'vitest';
import { quietAskDelay } from './stall-watch.ts';

describe('quietAskDelay', () => {
  it('doubles from the timeout and stops at 8 × it', () => {
    const delays = [0, 1, 2, 3, 4, 10].map((q) => quietAskDelay(10_000, q));
    expect(delays).toEqual([10_000, 20_000, 40_000, 80_000, 80_000, 80_000]);
  });

  it('bounds what 10000 listeners of a long-quiet broadcast ask of the relay', () => {
    // Steady state: one index request per listener every 8 × 10 s.
    expect(10_000 / (quietAskDelay(10_000, 99) / 1000)).toBe(125);
  });
});
