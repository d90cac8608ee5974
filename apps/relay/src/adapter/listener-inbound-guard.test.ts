import { describe, expect, it } from 'vitest';
import { heldFor } from './listener-inbound-guard.ts';

describe('heldFor: how long a refused listener connection is held', () => {
  it('is never shorter than the grace and at most twice as long', () => {
    expect(heldFor(10_000, 0)).toBe(10_000);
    expect(heldFor(10_000, 0.5)).toBe(15_000);
    expect(heldFor(10_000, 0.9999)).toBe(19_999);
  });

  it('spreads connections refused together over the whole window', () => {
    const holds = Array.from({ length: 2000 }, () => heldFor(10_000));
    expect(Math.min(...holds)).toBeGreaterThanOrEqual(10_000);
    expect(Math.max(...holds)).toBeLessThanOrEqual(20_000);
    // Each of five 2 s bins gets a share (uniform: ~400 each; far below only if not spread).
    const bins = [0, 0, 0, 0, 0];
    for (const h of holds) bins[Math.min(4, Math.floor((h - 10_000) / 2000))]!++;
    for (const b of bins) expect(b).toBeGreaterThan(250);
  });

  it('keeps a grace of 0 at 0 (the hold off)', () => {
    expect(heldFor(0)).toBe(0);
  });
});
