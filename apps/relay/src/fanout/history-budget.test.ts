import { describe, expect, it } from 'vitest';
import { HistoryBudget } from './history-budget.ts';
import { HistoryPacer } from './history-pacer.ts';

const settled = async <T>(p: Promise<T>): Promise<T | 'pending'> =>
  Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), 10))]);

describe('HistoryBudget', () => {
  it('grants while it fits, then queues in arrival order until bytes are given back', async () => {
    const budget = new HistoryBudget(100);
    expect(await budget.reserve(60).granted).toBe(60);
    const second = budget.reserve(60);
    const third = budget.reserve(10);
    // The small one does not overtake the one waiting longer.
    expect(await settled(third.granted)).toBe('pending');
    expect(budget.waiting).toBe(2);
    budget.release(60);
    expect(await second.granted).toBe(60);
    expect(await third.granted).toBe(10);
    expect(budget.inUse).toBe(70);
    expect(budget.waiting).toBe(0);
  });

  it('always lets one reader in when nothing is held, even past the limit', async () => {
    const budget = new HistoryBudget(0);
    expect(await budget.reserve(64 * 1024).granted).toBe(64 * 1024);
    const next = budget.reserve(1);
    expect(await settled(next.granted)).toBe('pending');
    budget.release(64 * 1024);
    expect(await next.granted).toBe(1);
  });

  it('when short, shares what is free among the waiting, never below their minimum', async () => {
    const budget = new HistoryBudget(1000);
    await budget.reserve(1000).granted;
    const waiters = [1, 2, 3, 4].map(() => budget.reserve(50, 400));
    budget.release(400);
    // 400 free among 4 waiting: 100 each, instead of all of it to the first.
    expect(await Promise.all(waiters.map((w) => w.granted))).toEqual([100, 100, 100, 100]);
    expect(budget.inUse).toBe(1000);
    // Nothing free: the next waits until its minimum fits.
    const small = budget.reserve(50, 400);
    expect(await settled(small.granted)).toBe('pending');
    budget.release(60);
    expect(await small.granted).toBe(60);
  });

  it('lets readers whose last batch was taken in before readers that have had none taken', async () => {
    const budget = new HistoryBudget(100);
    await budget.reserve(100).granted;
    const fresh = budget.reserve(50);
    const proven = budget.reserve(50, 50, true);
    budget.release(50);
    expect(await proven.granted).toBe(50);
    expect(await settled(fresh.granted)).toBe('pending');
    budget.release(50);
    expect(await fresh.granted).toBe(50);
  });

  it('a cancelled waiter resolves 0 and lets the next one in', async () => {
    const budget = new HistoryBudget(100);
    await budget.reserve(90).granted;
    const big = budget.reserve(50);
    const small = budget.reserve(5);
    big.cancel();
    expect(await big.granted).toBe(0);
    expect(await small.granted).toBe(5);
    expect(budget.inUse).toBe(95);
  });

  it('grants no faster than its rate, whatever memory is free, in arrival order', async () => {
    // 100 KB/s: a burst of 800 bytes (8 ms), then the rest as the rate allows, a wake each time
    // half a burst of credit is back.
    const budget = new HistoryBudget(1e9, 100_000);
    const started = performance.now();
    const order: number[] = [];
    const grants = Array.from({ length: 5 }, (_, i) => {
      const r = budget.reserve(1000);
      return r.granted.then((n) => {
        order.push(i);
        budget.release(n);
        return performance.now() - started;
      });
    });
    const times = await Promise.all(grants);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    // The first at once (into debt: 800 - 1000), each further one once the debt is paid and 400
    // bytes of credit are back: at 6, 16, 26 and 36 ms. Timers may fire late, or early by up to
    // ~1 ms each against performance.now() (libuv's loop clock has millisecond steps; a CI run saw
    // 34.5 ms): four wakes in a chain, so at least 32 ms. Without the rate all five come at once.
    expect(times[0]).toBeLessThan(5);
    expect(times[4]).toBeGreaterThanOrEqual(32);
    expect(budget.waiting).toBe(0);
  });

  it('readers proven to be reading are not rated and go first; the others still wait', async () => {
    // 1 KB/s: after the first grant the rate is in debt for about a second.
    const budget = new HistoryBudget(2500, 1000);
    expect(await budget.reserve(1000).granted).toBe(1000);
    const fresh = budget.reserve(500);
    const proven = budget.reserve(500, 500, true);
    // Not rated: granted at once, the debt and the two waiting for the rate notwithstanding.
    expect(await settled(budget.reserve(1000, 1000, true, true).granted)).toBe(1000);
    expect(await settled(proven.granted)).toBe('pending');
    expect(await settled(fresh.granted)).toBe('pending');
    // Memory still bounds them: with 500 free, a reading reader asking 1000 waits, and goes first
    // once memory is given back (before the two waiting longer for the rate).
    const reading = budget.reserve(1000, 1000, true, true);
    expect(await settled(reading.granted)).toBe('pending');
    budget.release(1000);
    expect(await reading.granted).toBe(1000);
    expect(budget.inUse).toBe(2000);
    // Their grants did not spend the rate: the proven one is next once the first debt is paid.
    const t0 = performance.now();
    expect(await proven.granted).toBe(500);
    expect(performance.now() - t0).toBeLessThan(1500);
    fresh.cancel();
  });

  it('a rate of 0 is no rate', async () => {
    const budget = new HistoryBudget(1e9, 0);
    const grants = Array.from({ length: 100 }, () => budget.reserve(1e6).granted);
    expect(await settled(Promise.all(grants))).toHaveLength(100);
  });
});

describe('HistoryPacer', () => {
  const pacing = (budget: HistoryBudget, stalled: { n: number }) => ({
    budget,
    readBytes: 1000,
    stallMs: 30,
    onStalled: () => stalled.n++,
    readingAfterBytes: Infinity,
  });

  it('holds one reservation at a time and gives it back on release and close', async () => {
    const budget = new HistoryBudget(1500);
    const stalled = { n: 0 };
    const a = new HistoryPacer(pacing(budget, stalled));
    const b = new HistoryPacer(pacing(budget, stalled));
    expect(await a.reserve(1000)).toBe(1000);
    const bWaits = b.reserve(1000);
    expect(await settled(bWaits)).toBe('pending');
    a.release();
    expect(await bWaits).toBe(1000);
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
    expect(await bWaits).toBe(0);
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

  it('a reader whose socket took more than the kernel can hold leaves the rate', async () => {
    // 1 KB/s: after a 1000-byte grant the rate is in debt for about a second.
    const budget = new HistoryBudget(1e6, 1000);
    const stalled = { n: 0 };
    const reader = new HistoryPacer({ ...pacing(budget, stalled), readingAfterBytes: 1500 });
    const other = new HistoryPacer(pacing(budget, stalled));
    // 1000 taken: not yet past 1500, so its next read waits for the rate like anyone's.
    expect(await reader.reserve(1000)).toBe(1000);
    reader.release();
    const second = reader.reserve(1000);
    expect(await settled(second)).toBe('pending');
    const othersRead = other.reserve(1000);
    expect(await second).toBe(1000);
    reader.release();
    // 2000 taken: past it. Granted at once, though the other reader still waits for the rate.
    expect(await settled(reader.reserve(1000))).toBe(1000);
    expect(await settled(othersRead)).toBe('pending');
    reader.close();
    other.close();
    expect(await othersRead).toBe(0);
    expect(budget.inUse).toBe(0);
  });
});
