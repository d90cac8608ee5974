/**
 * CPU of some processes over exactly the load generator's hold (its `hold-start` and `hold-end`
 * lines on stdout, bench/fanout/load-generator.ts), read beside runScenario, which consumes the
 * same stream: a second 'data' listener sees every chunk too. The cluster bench uses it for node
 * A and the nats-servers, whose work per block does not depend on the listener count.
 */
import type { Readable } from 'node:stream';

export interface HoldWindow {
  /** CPU µs of each sampled quantity over the hold, and the hold's wall ms; null if not seen. */
  result(): { cpuUs: number[]; wallMs: number } | null;
}

export function watchHold(stdout: Readable, sample: () => number[]): HoldWindow {
  let pending = '';
  let start: { cpu: number[]; t: number } | null = null;
  let end: { cpu: number[]; t: number } | null = null;
  const onData = (d: Buffer | string): void => {
    pending += String(d);
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      // Only the two events matter here; anything else (results, errors) is runScenario's.
      if (line.includes('"hold-start"')) start = { cpu: sample(), t: performance.now() };
      else if (line.includes('"hold-end"') && start) {
        end = { cpu: sample(), t: performance.now() };
        stdout.off('data', onData);
      }
    }
  };
  stdout.on('data', onData);
  return {
    result() {
      if (!start || !end) return null;
      const s = start as { cpu: number[]; t: number };
      const e = end as { cpu: number[]; t: number };
      return { cpuUs: e.cpu.map((c, i) => c - (s.cpu[i] ?? 0)), wallMs: e.t - s.t };
    },
  };
}
