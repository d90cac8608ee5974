// Preloaded into a relay under diagnosis (node --import, via MXCAST_BENCH_RELAY_NODE_ARGS; used by
// bench/fanout/hostile-cost.ts): samples the relay's event-loop delay (perf_hooks, 1 ms
// resolution), starts over on SIGUSR2 (the start of the measured window), and writes
// {p50, p99, max} in ms to MXCAST_LOOP_DELAY_FILE when the process exits. The event loop's delay
// is what live listeners wait on; CPU time alone does not say whether it came in one burst.
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const file = process.env.MXCAST_LOOP_DELAY_FILE;
const h = monitorEventLoopDelay({ resolution: 1 });
h.enable();
process.on('SIGUSR2', () => h.reset());
process.on('exit', () => {
  if (!file) return;
  const ms = (ns) => Math.round(ns / 1e4) / 100;
  writeFileSync(
    file,
    JSON.stringify({ p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) }),
  );
});
