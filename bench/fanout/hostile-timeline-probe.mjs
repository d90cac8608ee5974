// Preloaded into a relay under diagnosis (node --import, via MXCAST_BENCH_RELAY_NODE_ARGS, like
// loop-delay-probe.mjs): a timeline of the relay's event loop in 500 ms buckets, so a row's
// latency outliers can be placed in its hold (when the hostile crowd arrives, when flooders
// reconnect, when stalled readers are cut). A 1 ms timer measures how late each tick is; each
// bucket gets its worst lateness, the ticks later than 2 ms and 5 ms, the CPU ms the relay used,
// and its open handles (sockets: joins and cuts show as steps); from the threads' schedstat
// (proc(5), Linux), the main thread's CPU ms, the ms it was runnable but waited for the core,
// and the CPU ms of the relay's other threads (V8's compilers and GC helpers, libuv's pool): is
// anything else taking the relay's core? Written as JSON lines to
// MXCAST_LOOP_TIMELINE_FILE when the process exits; t is ms since the probe started. Below: each
// live fan-out's cost, and switches to compare (--config, the live-first gate off). E.g.
// `MXCAST_SOURCE=1 MXCAST_BENCH_RELAY_NODE_ARGS="--import ./bench/fanout/hostile-timeline-probe.mjs"
// MXCAST_LOOP_TIMELINE_FILE=/tmp/tl.jsonl npx tsx bench/run.ts fanout --series=relay-ws-hostile
// --n=1000 --preset=low-latency` (a subset: printed, not recorded).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';

// '%p' in the name becomes the pid, so each relay of a paired run keeps its own.
const file = process.env.MXCAST_LOOP_TIMELINE_FILE?.replace('%p', String(process.pid));
const BUCKET_MS = 500;
const t0 = performance.now();
const rows = [];
let bucket = null;
let cpu = process.cpuUsage();

// A thread's /proc/…/schedstat: [ms on the CPU, ms runnable but waiting for it]; null where the
// kernel has no such file. Read on the main thread, /proc/thread-self is the main thread.
function schedstat(path) {
  try {
    const [run, wait] = readFileSync(path, 'utf8').split(' ');
    return [Number(run) / 1e6, Number(wait) / 1e6];
  } catch {
    return null;
  }
}
const mainSched = () => schedstat('/proc/thread-self/schedstat');
function helpersCpuMs() {
  let sum = 0;
  try {
    for (const tid of readdirSync('/proc/self/task'))
      if (tid !== String(process.pid))
        sum += schedstat(`/proc/self/task/${tid}/schedstat`)?.[0] ?? 0;
  } catch {
    return null;
  }
  return sum;
}
let sched = mainSched();
let helpers = helpersCpuMs();
const ms = (v) => Math.round(v * 10) / 10;

function close(now) {
  if (!bucket) return;
  const used = process.cpuUsage(cpu);
  cpu = process.cpuUsage();
  bucket.cpuMs = Math.round((used.user + used.system) / 1000);
  bucket.handles = process.getActiveResourcesInfo().length;
  const nowSched = mainSched();
  const nowHelpers = helpersCpuMs();
  if (sched && nowSched) {
    bucket.mainCpuMs = ms(nowSched[0] - sched[0]);
    bucket.mainWaitMs = ms(nowSched[1] - sched[1]);
  }
  // A thread that exited takes its time with it: never below zero.
  if (helpers !== null && nowHelpers !== null)
    bucket.helperCpuMs = ms(Math.max(0, nowHelpers - helpers));
  sched = nowSched;
  helpers = nowHelpers;
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

// With the relay run from source (MXCAST_SOURCE=1): each live fan-out's cost, from its start to
// every listener having the block (apps/relay/src/fanout/live-first.ts begin → end), in the
// relay's CPU time (its threads, the file reads' included) as well as wall time. CPU time is
// what the relay itself spent while the fan-out's last listeners waited: a shared machine's load
// does not blur it, the wall time it adds does. The wall time is split in two: inside the hub's
// slices (media-hub.ts run(): the listeners' writes) and between them (the event-loop turns in
// which anything else ready ran: a hostile crowd's accepts, upgrades, refusals). Written to
// MXCAST_LOOP_TIMELINE_FILE.fanout.json: p50/p90/p99/max of each, ms, and the count.
// MXCAST_BENCH_NO_LIVE_FIRST=1: history no longer waits for live fan-outs (the gate's turn()
// resolves at once), to compare both in one sitting.
const fanouts = {
  cpu: [],
  wall: [],
  at: [],
  slices: [],
  inSlices: [],
  mainWait: [],
  historySteps: 0,
  historyMidFanout: 0,
};
if (process.env.MXCAST_SOURCE === '1') {
  setTimeout(async () => {
    const url = new URL('../../apps/relay/src/fanout/live-first.ts', import.meta.url).href;
    const { liveFirst } = await import(url);
    // History steps (a file read, a write) in all, and those asked for mid-fan-out.
    const turn = liveFirst.turn;
    liveFirst.turn = function (...args) {
      fanouts.historySteps++;
      if (this.live) fanouts.historyMidFanout++;
      if (process.env.MXCAST_BENCH_NO_LIVE_FIRST === '1') return Promise.resolve();
      return turn.apply(this, args);
    };
    let started = null;
    // The hub's slices: how many, and the wall time inside them.
    const hubUrl = new URL('../../apps/relay/src/fanout/media-hub.ts', import.meta.url).href;
    const { MediaHub } = await import(hubUrl);
    const run = MediaHub.prototype.run;
    MediaHub.prototype.run = function (budget) {
      const from = performance.now();
      try {
        return run.call(this, budget);
      } finally {
        if (started) {
          started.slices++;
          started.inSlices += performance.now() - from;
        }
      }
    };
    const { begin, end } = liveFirst;
    liveFirst.begin = function () {
      if (this.busy === 0)
        started = {
          cpu: process.cpuUsage(),
          wall: performance.now(),
          slices: 0,
          inSlices: 0,
          sched: mainSched(),
        };
      begin.call(this);
    };
    liveFirst.end = function () {
      end.call(this);
      if (this.busy !== 0 || !started) return;
      const used = process.cpuUsage(started.cpu);
      fanouts.cpu.push((used.user + used.system) / 1000);
      fanouts.wall.push(performance.now() - started.wall);
      fanouts.at.push(started.wall);
      fanouts.slices.push(started.slices);
      fanouts.inSlices.push(started.inSlices);
      const sched = mainSched();
      fanouts.mainWait.push(started.sched && sched ? sched[1] - started.sched[1] : NaN);
      started = null;
    };
  }, 300).unref();
}

// Every garbage collection's pause ([start, ms], performance.now() time), to find those that fell
// inside a fan-out.
const gcs = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcs.push([e.startTime, e.duration]);
}).observe({ entryTypes: ['gc'] });
function gcMsWithin(from, ms) {
  let sum = 0;
  for (const [start, d] of gcs)
    sum += Math.max(0, Math.min(start + d, from + ms) - Math.max(start, from));
  return sum;
}

process.on('exit', () => {
  if (!file || fanouts.cpu.length === 0) return;
  const summary = (values) => {
    const v = [...values].sort((a, b) => a - b);
    const at = (p) =>
      Math.round(v[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)] * 100) / 100;
    return { p50: at(50), p90: at(90), p99: at(99), max: at(100) };
  };
  // From 1 s after the first fan-out: the honest listeners' joins are not the row's.
  const first = fanouts.at[0] ?? 0;
  const keep = (values) => values.filter((_, i) => (fanouts.at[i] ?? 0) >= first + 1000);
  writeFileSync(
    `${file}.fanout.json`,
    JSON.stringify({
      // The probe's start (each fan-out's `at` is ms since it), in ms since the epoch: to lay the
      // fan-outs beside samples taken outside the relay (/proc, another process's clock).
      startedAtEpochMs: Math.round(performance.timeOrigin + t0),
      count: keep(fanouts.cpu).length,
      cpuMs: summary(keep(fanouts.cpu)),
      wallMs: summary(keep(fanouts.wall)),
      inSlicesMs: summary(keep(fanouts.inSlices)),
      betweenSlicesMs: summary(keep(fanouts.wall.map((w, i) => w - (fanouts.inSlices[i] ?? 0)))),
      liveFirst: process.env.MXCAST_BENCH_NO_LIVE_FIRST !== '1',
      // Garbage collection inside a fan-out (its pauses on the main thread).
      gcMs: summary(keep(fanouts.at.map((at, i) => gcMsWithin(at, fanouts.wall[i] ?? 0)))),
      // How long the main thread waited for its core in a fan-out (null without schedstat).
      mainWaitMs: fanouts.mainWait.some(Number.isNaN) ? null : summary(keep(fanouts.mainWait)),
      historySteps: fanouts.historySteps,
      historyMidFanout: fanouts.historyMidFanout,
      // Every fan-out: [start ms since the probe started, wall ms, CPU ms, slices, wall ms inside
      // them, ms the main thread waited for its core, ms of garbage collection in it], to lay
      // beside a block trace (MXCAST_BENCH_BLOCK_TRACE) or the timeline's buckets.
      each: fanouts.at.map((at, i) => [
        Math.round(at - t0),
        Math.round(fanouts.wall[i] * 100) / 100,
        Math.round(fanouts.cpu[i] * 100) / 100,
        fanouts.slices[i],
        Math.round(fanouts.inSlices[i] * 100) / 100,
        Math.round((fanouts.mainWait[i] ?? NaN) * 100) / 100,
        Math.round(gcMsWithin(at, fanouts.wall[i] ?? 0) * 100) / 100,
      ]),
    }),
  );
});
