/**
 * A reader queued by the rate must always have something to wake it. With performance.now() stepped
 * 0.5 ms per call (1 MB/s: +500 bytes of credit per call), a reserve finds the credit at exactly 0
 * (none: it queues), and any later look finds it back above 0. The budget once looked again after
 * queueing, saw credit, set no timer and had nothing reserved to release: the reader waited forever
 * (seen as tus.test.ts downloads hanging 60 s under load, every later history read behind it).
 */
import { afterEach, expect, it, vi } from 'vitest';
import { HistoryBudget } from './history-budget.ts';

afterEach(() => {
  vi.restoreAllMocks();
});

it('a reader queued with the credit at 0 is granted once it is back, with nothing released', async () => {
  let clock = 0;
  vi.spyOn(performance, 'now').mockImplementation(() => (clock += 0.5));
  const budget = new HistoryBudget(1024 ** 2, 1_000_000); // burst: 8000 bytes
  const all = budget.reserve(8000); // credit 8000 -> 0
  expect(await all.granted).toBe(8000);
  budget.release(8000);
  const some = budget.reserve(1000); // +500: 500 -> -500
  expect(await some.granted).toBe(1000);
  budget.release(1000);
  const last = budget.reserve(100); // +500: 0, none: queued
  expect(budget.waiting + budget.inUse).toBeGreaterThan(0);
  const outcome = await Promise.race([
    last.granted,
    new Promise<string>((r) => setTimeout(() => r('still waiting after 1 s'), 1000)),
  ]);
  expect(outcome).toBe(100);
  expect(budget.waiting).toBe(0);
});
