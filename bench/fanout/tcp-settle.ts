/**
 * Waits for the TCP connections of the rows before to leave TIME_WAIT before a hostile row starts
 * (docs/hostile-bench.md, 2026-12-06, afternoon). A hostile row that follows a larger one (the
 * next preset's N = 1000 after this one's N = 3000; a row a bench run just before ended) would
 * begin with that row's closed connections in TIME_WAIT for 60 s (Linux's TCP_TIMEWAIT_LEN;
 * ~11 000 after an N = 10000 row): they expire during the first pair, under one of its two runs
 * and not the other, so the pair's runs would differ by more than the crowd. Within a row each
 * run leaves the next about as many as the row's N, the order alternating (hostile-pairs.ts), so
 * a row waits until no more than that are left: the level its own runs keep.
 */
import { readFileSync } from 'node:fs';

/** Sockets in TIME_WAIT from proc(5)'s /proc/net/sockstat (`TCP: inuse N … tw N …`). */
export function parseTimeWait(sockstat: string): number | null {
  const m = /^TCP:.*\btw (\d+)/m.exec(sockstat);
  return m ? Number(m[1]) : null;
}

export function timeWaitNow(): number | null {
  try {
    return parseTimeWait(readFileSync('/proc/net/sockstat', 'utf8'));
  } catch {
    return null;
  }
}

export interface SettleResult {
  /** TIME_WAIT sockets when the wait began, and when it ended. */
  before: number;
  after: number;
  waitedMs: number;
}

/**
 * Polls until at most `quiet` sockets are in TIME_WAIT (default 100; a hostile row passes its N),
 * or `maxMs` has passed (60 s of TIME_WAIT and a margin); null where /proc/net/sockstat cannot be
 * read (not Linux).
 */
export async function settleTcp(
  options: { quiet?: number; maxMs?: number; pollMs?: number; read?: () => number | null } = {},
): Promise<SettleResult | null> {
  const { quiet = 100, maxMs = 75_000, pollMs = 1000, read = timeWaitNow } = options;
  const before = read();
  if (before === null) return null;
  const t0 = performance.now();
  let now = before;
  while (now > quiet && performance.now() - t0 < maxMs) {
    await new Promise((r) => setTimeout(r, pollMs));
    now = read() ?? 0;
  }
  return { before, after: now, waitedMs: performance.now() - t0 };
}
