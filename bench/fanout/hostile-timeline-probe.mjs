// Preloaded into a relay under diagnosis (node --import, via MXCAST_BENCH_RELAY_NODE_ARGS, like
// loop-delay-probe.mjs): a timeline of the relay's event loop in 500 ms buckets, so a row's
// latency outliers can be placed in its hold (when the hostile crowd arrives, when flooders
// reconnect, when stalled readers are cut). A 1 ms timer measures how late each tick is; each
// bucket gets its worst lateness, the ticks later than 2 ms and 5 ms, the CPU ms the relay used,
// and its open handles (sockets: joins and cuts show as steps). Written as JSON lines to
// MXCAST_LOOP_TIMELINE_FILE when the process exits; t is ms since the probe started.
import { writeFileSync } from 'node:fs';

const file = process.env.MXCAST_LOOP_TIMELINE_FILE;
const BUCKET_MS = 500;
const t0 = performance.now();
const rows = [];
let bucket = null;
let cpu = process.cpuUsage();

function close(now) {
  if (!bucket) return;
  const used = process.cpuUsage(cpu);
  cpu = process.cpuUsage();
  bucket.cpuMs = Math.round((used.user + used.system) / 1000);
  bucket.handles = process.getActiveResourcesInfo().length;
  bucket.maxLateMs = Math.round(bucket.maxLateMs * 10) / 10;
  rows.push(bucket);
  bucket = null;
  void now;
}

let expected = performance.now() + 1;
const tick = () => {
  const now = performance.now();
  const late = now - expected;
  const t = now - t0;
  const start = Math.floor(t / BUCKET_MS) * BUCKET_MS;
  if (bucket && bucket.t !== start) close(now);
  bucket ??= { t: start, maxLateMs: 0, over2: 0, over5: 0, cpuMs: 0, handles: 0 };
  if (late > bucket.maxLateMs) bucket.maxLateMs = late;
  if (late > 2) bucket.over2++;
  if (late > 5) bucket.over5++;
  expected = now + 1;
  setTimeout(tick, 1).unref();
};
setTimeout(tick, 1).unref();

process.on('exit', () => {
  close(performance.now());
  if (file) writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
});

// MXCAST_BENCH_RELAY_CONFIG=FILE: the relay under diagnosis runs with `--config FILE` (other
// limits, to compare), without changing how the bench starts it.
if (process.env.MXCAST_BENCH_RELAY_CONFIG)
  process.argv.push('--config', process.env.MXCAST_BENCH_RELAY_CONFIG);

// MXCAST_BENCH_NO_LIVE_FIRST=1 (relay run from source, MXCAST_SOURCE=1): history no longer waits
// for live fan-outs (apps/relay/src/fanout/live-first.ts), to compare both in one sitting.
if (process.env.MXCAST_BENCH_NO_LIVE_FIRST === '1') {
  setTimeout(async () => {
    const url = new URL('../../apps/relay/src/fanout/live-first.ts', import.meta.url).href;
    const { liveFirst } = await import(url);
    liveFirst.turn = () => Promise.resolve();
    process.stderr.write('probe: live-first gate off\n');
  }, 300).unref();
}
