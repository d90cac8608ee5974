/** Pairs of clean and hostile runs: their order, and the median that judges them. */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PAIRS,
  judgePairs,
  MAX_PAIRS,
  median,
  pairListeners,
  pairOrder,
  type HostilePair,
} from './hostile-pairs.ts';
import { scenarioResult } from './scenario-fixture.ts';

const pair = (clean: number, hostile: number): HostilePair => ({
  clean: scenarioResult(1000, clean),
  hostile: scenarioResult(900, hostile),
});

describe('hostile pairs', () => {
  it('alternates which run goes first', () => {
    expect([0, 1, 2, 3].map((i) => pairOrder(i)[0])).toEqual([
      'clean',
      'hostile',
      'clean',
      'hostile',
    ]);
  });

  it("runs an odd number of pairs, so the median is one pair's change, not the mean of two", () => {
    expect(DEFAULT_PAIRS % 2).toBe(1);
    expect(DEFAULT_PAIRS).toBeLessThanOrEqual(MAX_PAIRS);
  });

  it('takes the median of odd and even counts, and refuses none', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(RangeError);
  });

  it('judges the median change and points at the pair nearest it', () => {
    const v = judgePairs([pair(10, 15), pair(10, 10.4), pair(10, 9)]);
    expect(v.changes.map((c) => Math.round(c * 100))).toEqual([50, 4, -10]);
    expect(v.medianChange).toBeCloseTo(0.04);
    expect(v.representative).toBe(1);
  });

  it('leaves incomplete pairs out, and has no verdict without a complete one', () => {
    const v = judgePairs([{ clean: scenarioResult(1000, 10), error: 'hostile: x' }, pair(10, 12)]);
    expect(v.changes).toHaveLength(1);
    expect(v.representative).toBe(1);
    expect(judgePairs([{ error: 'clean: x' }])).toEqual({
      changes: [],
      medianChange: null,
      representative: null,
    });
  });
});

describe('pairListeners', () => {
  it('gives the clean run the hostile run’s honest listeners only', () => {
    expect(pairListeners('hostile', 1000)).toBe(1000);
    expect(pairListeners('clean', 1000)).toBe(900);
    expect(pairListeners('clean', 3000)).toBe(2700);
    // a small N rounds the hostile tenth, and the clean run still matches the honest count
    expect(pairListeners('clean', 15)).toBe(15 - Math.round(1.5));
  });
});
