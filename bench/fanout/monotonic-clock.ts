/**
 * Milliseconds on CLOCK_MONOTONIC. `performance.now()` counts from each thread's own origin,
 * so the uploader worker and the listeners' thread would disagree; `process.hrtime` reads
 * the same clock in every thread of every process on the machine.
 */
export function monotonicMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}
