/**
 * The load generator process (run pinned to its own core, `taskset -c 1`): it reads its config
 * as one JSON line on stdin (so it can start up while the server does), then one worker thread
 * uploads the stream in real time, the main thread joins N listeners, holds them for the
 * measurement window and reports. It talks to the bench over stdout, one JSON object a line:
 * `started`, `joined`, `hold-start`, `hold-end`, then `result` (or `error`), and exits.
 * Every wait is bounded, so a run ends by itself whatever the server does. A hostile row also
 * opens its hostile crowd (hostile-crowd.ts) in a process of its own (hostile-crowd-main.ts says
 * why; MXCAST_BENCH_CROWD=generator keeps it in this one) once the honest listeners have joined,
 * keeps it up through the hold, and reports the crowd's counts and CPU and the relay's own counts
 * of what it cut.
 */
import { writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { FANOUT_PRESETS, type FanoutPresetName } from './fanout-presets.ts';
import {
  crowdLeadMsFromEnv,
  crowdPlacementFromEnv,
  hostileOnlyFromEnv,
  type HostileResult,
  type HostileStats,
  type HostileTarget,
} from './hostile-crowd.ts';
import { openHostileCrowd, type OpenCrowd } from './hostile-crowd-process.ts';
import { metricSum } from './prometheus-text.ts';
import { ListenerPool, type ListenerTarget } from './listener-pool.ts';
import { FAILED, SENT, STOP, type UploadTarget } from './stream-uploader.ts';

export interface LoadGeneratorConfig {
  preset: FanoutPresetName;
  listeners: number;
  upload: UploadTarget;
  listen: ListenerTarget;
  holdMs: number;
  graceMs: number;
  joinConcurrency: number;
  joinTimeoutMs: number;
  /** No listener starts joining after this long: a server that joins too slowly breaks here. */
  joinBudgetMs: number;
  /**
   * A hostile row: this many hostile connections besides the `listeners` honest ones, opened by a
   * process of their own pinned to a core, or by this one (MXCAST_BENCH_CROWD).
   */
  hostile?: { count: number; target: HostileTarget };
}

export type LoadEvent =
  | { event: 'started' }
  | {
      event: 'joined';
      joined: number;
      failed: number;
      failures: Record<string, number>;
      elapsedMs: number;
    }
  | { event: 'hold-start' }
  | { event: 'hold-end' }
  | { event: 'result'; result: LoadResult }
  | { event: 'error'; message: string };

export interface LoadResult {
  listeners: number;
  joined: number;
  joinFailures: Record<string, number>;
  joinMs: number;
  heldAtStart: number;
  held: number;
  dropped: number;
  holdMs: number;
  windowBlocks: number;
  expectedBlocks: number;
  lostBlocks: number;
  seqGaps: number;
  skippedMessages: number;
  samples: number;
  p50: number;
  p99: number;
  max: number;
  /** CPU the load generator itself used during the hold (both threads), % of one core. */
  generatorCpuPct: number;
  hostile?: HostileResult;
}

function emit(e: LoadEvent): void {
  process.stdout.write(JSON.stringify(e) + '\n');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type RelayCounts = Omit<
  HostileResult,
  keyof HostileStats | 'crowdPlacement' | 'crowdCpuPct' | 'crowdIdlePolicy'
>;

async function relayCounts(port: number): Promise<RelayCounts> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, {
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    return {
      relayStalledCut: metricSum(text, 'mxcast_slow_listeners_total', '{action="stalled"}'),
      relayFloodersCut: metricSum(text, 'mxcast_listener_messages_refused_total'),
      relayHistoryBudgetBytes: metricSum(text, 'mxcast_history_budget_bytes'),
      relayListeners: metricSum(text, 'mxcast_listeners'),
    };
  } catch {
    return {
      relayStalledCut: null,
      relayFloodersCut: null,
      relayHistoryBudgetBytes: null,
      relayListeners: null,
    };
  }
}

async function main(config: LoadGeneratorConfig): Promise<void> {
  const preset = FANOUT_PRESETS[config.preset];
  // Room for the whole run: joining (bounded by the join timeout) + hold + grace + slack.
  const seconds =
    (config.joinBudgetMs + config.joinTimeoutMs + config.holdMs + config.graceMs) / 1000 + 30;
  const capacity = Math.ceil((seconds * 1000) / preset.blockIntervalMs) + 2;
  const sendTimesBuf = new SharedArrayBuffer(capacity * 8);
  const controlBuf = new SharedArrayBuffer(16);
  const sendTimes = new Float64Array(sendTimesBuf);
  const control = new Int32Array(controlBuf);
  // Node 20 does not hand module hooks (tsx's TypeScript loader) on to worker threads, so the
  // worker registers tsx itself before importing the TypeScript entry.
  const entry = new URL('./uploader-worker.ts', import.meta.url).href;
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  const worker = new Worker(boot, {
    eval: true,
    workerData: {
      target: config.upload,
      preset: config.preset,
      sendTimes: sendTimesBuf,
      control: controlBuf,
    },
  });
  let uploadError: string | null = null;
  worker.on('message', (m: { type: string; message?: string }) => {
    if (m.type === 'error') uploadError = m.message ?? 'upload failed';
  });
  worker.on('error', (err) => (uploadError = `uploader thread: ${err.message}`));
  const check = (): void => {
    if (uploadError !== null || Atomics.load(control, FAILED) === 1) {
      throw new Error(uploadError ?? 'upload failed');
    }
  };
  // MXCAST_BENCH_BLOCK_TRACE=FILE ('%p': the pid): each block's worst delay over the honest
  // listeners, one "seq ms" line per block of the window: whether a row's p99 comes from a few
  // slow fan-outs (spikes) or from every fan-out being slower (a diagnosis run).
  const trace = process.env.MXCAST_BENCH_BLOCK_TRACE?.replace('%p', String(process.pid));
  const pool = new ListenerPool(
    config.listen,
    sendTimes,
    () => Atomics.load(control, SENT),
    trace !== undefined,
  );
  let crowd: OpenCrowd | null = null;
  try {
    for (let waited = 0; Atomics.load(control, SENT) < 3; waited += 20) {
      check();
      if (waited > 15_000) throw new Error('the uploader sent nothing within 15 s');
      await sleep(20);
    }
    emit({ event: 'started' });
    const join = await pool.join(
      config.listeners,
      config.joinConcurrency,
      config.joinTimeoutMs,
      config.joinBudgetMs,
    );
    emit({ event: 'joined', ...join });
    if (config.hostile) {
      const { count, target } = config.hostile;
      crowd = await openHostileCrowd(
        crowdPlacementFromEnv(),
        { count, target, only: hostileOnlyFromEnv() },
        30_000,
      );
    }
    // A diagnosis lead (MXCAST_BENCH_CROWD_LEAD_S), in both runs of a pair when set.
    const leadMs = crowdLeadMsFromEnv();
    if (leadMs > 0) await sleep(leadMs);
    check();
    const windowStart = Atomics.load(control, SENT);
    const heldAtStart = pool.startWindow(windowStart);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    emit({ event: 'hold-start' });
    await sleep(config.holdMs);
    const windowEnd = Atomics.load(control, SENT) - 1;
    pool.endWindow(windowEnd);
    const holdMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    emit({ event: 'hold-end' });
    let hostile: HostileResult | undefined;
    if (crowd && config.hostile) {
      const counts = await relayCounts(config.hostile.target.port);
      const { placement, idlePolicy } = crowd;
      const report = await crowd.stop();
      crowd = null;
      hostile = {
        ...report.stats,
        ...counts,
        crowdPlacement: placement,
        crowdCpuPct: report.cpuPct,
        crowdIdlePolicy: idlePolicy,
      };
    }
    await sleep(config.graceMs);
    check();
    const w = pool.result(heldAtStart);
    if (trace)
      writeFileSync(
        trace,
        [...pool.worstBySeq].map(([seq, d]) => `${seq} ${d.toFixed(2)}`).join('\n') + '\n',
      );
    const delays = pool.histogram.summary();
    emit({
      event: 'result',
      result: {
        listeners: config.listeners,
        joined: join.joined,
        joinFailures: join.failures,
        joinMs: join.elapsedMs,
        heldAtStart,
        held: heldAtStart - w.dropped,
        dropped: w.dropped,
        holdMs,
        windowBlocks: windowEnd - windowStart + 1,
        expectedBlocks: w.expectedBlocks,
        lostBlocks: w.lostBlocks,
        seqGaps: w.seqGaps,
        skippedMessages: w.skippedMessages,
        ...delays,
        generatorCpuPct: ((cpu.user + cpu.system) / 1000 / holdMs) * 100,
        ...(hostile ? { hostile } : {}),
      },
    });
  } finally {
    Atomics.store(control, STOP, 1);
    await crowd?.kill();
    pool.close();
    await Promise.race([new Promise((r) => worker.once('exit', r)), sleep(2000)]);
    await worker.terminate();
  }
}

/** The config arrives as one JSON line on stdin, so the process can start before the server. */
async function readConfig(): Promise<LoadGeneratorConfig> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  return JSON.parse(text) as LoadGeneratorConfig;
}

try {
  await main(await readConfig());
} catch (err) {
  emit({ event: 'error', message: (err as Error).message });
  process.exitCode = 1;
}
