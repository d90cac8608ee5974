import { describe, expect, it } from 'vitest';
import { FixedBlockTracker } from './fixed-block-tracker.ts';

describe('FixedBlockTracker', () => {
  it('reports each block when the byte count passes its end, however the bytes are counted', () => {
    for (const step of [1, 7, 140, 141, 1000]) {
      const seqs: number[] = [];
      const t = new FixedBlockTracker(12, 178 + 10 * 140, 140, (s) => seqs.push(s));
      let sent = 0;
      while (sent < 5 * 140 - 1) {
        const n = Math.min(step, 5 * 140 - 1 - sent);
        t.add(n);
        sent += n;
      }
      expect(seqs).toEqual([12, 13, 14, 15]); // the fifth block misses its last byte
      t.add(1);
      expect(seqs).toEqual([12, 13, 14, 15, 16]);
      expect(t.offset).toBe(178 + 15 * 140);
    }
  });
});
