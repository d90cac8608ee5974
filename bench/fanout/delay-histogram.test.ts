import { describe, expect, it } from 'vitest';
import { percentile } from '../bench-kit.ts';
import { DelayHistogram } from './delay-histogram.ts';

describe('DelayHistogram', () => {
  it('gives percentiles within one 0.1 ms bucket above the exact ones, and the exact max', () => {
    const values = Array.from(
      { length: 5000 },
      (_, i) => ((i * 7919) % 5000) / 37 + (i % 3) * 0.013,
    );
    const h = new DelayHistogram();
    for (const v of values) h.add(v);
    for (const p of [1, 50, 90, 99, 99.9]) {
      const exact = percentile(values, p);
      expect(h.percentile(p)).toBeGreaterThanOrEqual(exact);
      expect(h.percentile(p) - exact).toBeLessThanOrEqual(0.1 + 1e-9);
    }
    expect(h.summary().max).toBe(Math.max(...values));
    expect(h.summary().samples).toBe(5000);
  });

  it('merges, keeps delays past its range in the overflow bucket, and is NaN when empty', () => {
    const a = new DelayHistogram();
    const b = new DelayHistogram();
    expect(Number.isNaN(a.percentile(50))).toBe(true);
    a.add(1);
    b.add(20_000);
    b.add(3);
    a.merge(b);
    expect(a.samples).toBe(3);
    expect(a.percentile(50)).toBeCloseTo(3.1, 5);
    expect(a.percentile(100)).toBe(20_000);
  });
});
