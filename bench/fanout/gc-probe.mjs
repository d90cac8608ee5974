// Preloaded into a relay under diagnosis (node --import, via MXCAST_BENCH_RELAY_NODE_ARGS, like
// loop-delay-probe.mjs): every garbage collection's kind and pause (node:perf_hooks 'gc' entries),
// so a row's latency outliers can be laid beside the collector's pauses. Written as one JSON
// object to MXCAST_GC_FILE when the process exits ('%p' in the name becomes the pid, so each relay
// of a paired run keeps its own): per kind the count, total and longest pause, and the ten longest
// pauses with their time (ms since the probe started). E.g.
// `MXCAST_BENCH_RELAY_NODE_ARGS="--import ./bench/fanout/gc-probe.mjs" MXCAST_GC_FILE=/tmp/gc-%p.json
// npx tsx bench/run.ts fanout --series=relay-ws-hostile --n=1000 --preset=low-latency --pairs=1`.
import { writeFileSync } from 'node:fs';
import { constants, performance, PerformanceObserver } from 'node:perf_hooks';

const file = process.env.MXCAST_GC_FILE?.replace('%p', String(process.pid));
const KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};
const t0 = performance.now();
const kinds = {};
const pauses = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = KINDS[e.detail?.kind] ?? String(e.detail?.kind);
    const k = (kinds[kind] ??= { count: 0, totalMs: 0, maxMs: 0 });
    k.count++;
    k.totalMs += e.duration;
    k.maxMs = Math.max(k.maxMs, e.duration);
    pauses.push({ kind, ms: Math.round(e.duration * 100) / 100, t: Math.round(e.startTime - t0) });
  }
}).observe({ entryTypes: ['gc'] });

process.on('exit', () => {
  if (!file) return;
  for (const k of Object.values(kinds)) {
    k.totalMs = Math.round(k.totalMs * 10) / 10;
    k.maxMs = Math.round(k.maxMs * 100) / 100;
  }
  const longest = [...pauses].sort((a, b) => b.ms - a.ms).slice(0, 10);
  writeFileSync(
    file,
    JSON.stringify({
      kinds,
      longest,
      heapMb: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
    }) + '\n',
  );
});
