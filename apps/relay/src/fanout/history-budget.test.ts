import { describe, expect, it } from 'vitest';
import { HistoryBudget } from './history-budget.ts';
import { HistoryPacer } from './history-pacer.ts';

const settled = async <T>(p: Promise<T>): Promise<T | 'pending'> =>
  Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), 10))]);

describe('HistoryBudget', () => {
  it('grants while it fits, then queues in arrival order until bytes are given back', async () => {
    const budget = new HistoryBudget(100);
    expect(await budget.reserve(60).granted).toBe(true);
    const second = budget.reserve(60);
    const third = budget.reserve(10);
    // The small one does not overtake the one waiting longer.
    expect(await settled(third.granted)).toBe('pending');
    expect(budget.waiting).toBe(2);
    budget.release(60);
    expect(await second.granted).toBe(true);
    expect(await third.granted).toBe(true);
    expect(budget.inUse).toBe(70);
    expect(budget.waiting).toBe(0);
  });

  it('always lets one reader in when nothing is held, even past the limit', async () => {
    const budget = new HistoryBudget(0);
    expect(await budget.reserve(64 * 1024).granted).toBe(true);
    const next = budget.reserve(1);
    expect(await settled(next.granted)).toBe('pending');
    budget.release(64 * 1024);
    expect(await next.granted).toBe(true);
  });

  it('lets readers whose last batch was taken in before readers that have had none taken', async () => {
    const budget = new HistoryBudget(100);
    await budget.reserve(100).granted;
    const fresh = budget.reserve(50);
    const proven = budget.reserve(50, true);
    budget.release(50);
    expect(await proven.granted).toBe(true);
    expect(await settled(fresh.granted)).toBe('pending');
    budget.release(50);
    expect(await fresh.granted).toBe(true);
  });

  it('a cancelled waiter resolves false and lets the next one in', async () => {
    const budget = new HistoryBudget(100);
    await budget.reserve(90).granted;
    const big = budget.reserve(50);
    const small = budget.reserve(5);
    big.cancel();
    expect(await big.granted).toBe(false);
    expect(await small.granted).toBe(true);
    expect(budget.inUse).toBe(95);
  });
});

describe('HistoryPacer', () => {
  const pacing = (budget: HistoryBudget, stalled: { n: number }) => ({
    budget,
    readBytes: 1000,
    stallMs: 30,
    onStalled: () => stalled.n++,
  });

  it('holds one reservation at a time and gives it back on release and close', async () => {
    const budget = new HistoryBudget(1500);
    const stalled = { n: 0 };
    const a = new HistoryPacer(pacing(budget, stalled));
    const b = new HistoryPacer(pacing(budget, stalled));
    expect(await a.reserve(1000)).toBe(true);
    const bWaits = b.reserve(1000);
    expect(await settled(bWaits)).toBe('pending');
    a.release();
    expect(await bWaits).toBe(true);
    b.close();
    a.close();
    expect(budget.inUse).toBe(0);
  });

  it('a reader closed while waiting for the budget leaves the queue', async () => {
    const budget = new HistoryBudget(1000);
    const stalled = { n: 0 };
    const a = new HistoryPacer(pacing(budget, stalled));
    const b = new HistoryPacer(pacing(budget, stalled));
    await a.reserve(1000);
    const bWaits = b.reserve(1000);
    b.close();
    expect(await bWaits).toBe(false);
    expect(budget.waiting).toBe(0);
    a.close();
    expect(budget.inUse).toBe(0);
  });

  it('reports a stall when the socket takes nothing within stallMs, and counts it', async () => {
    const stalled = { n: 0 };
    const pacer = new HistoryPacer(pacing(new HistoryBudget(1000), stalled));
    expect(await pacer.progress(new Promise(() => {}))).toBe(false);
    expect(stalled.n).toBe(1);
    expect(await pacer.progress(new Promise((r) => setTimeout(r, 5)))).toBe(true);
    expect(stalled.n).toBe(1);
  });
});
