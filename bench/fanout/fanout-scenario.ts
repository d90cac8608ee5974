/**
 * One row of the fan-out tables: a fresh server, a fresh load generator pinned to the other
 * core, N listeners joined and held, and the server's CPU % and peak RSS sampled from /proc
 * over exactly the hold the load generator measured.
 */
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FanoutPresetName } from './fanout-presets.ts';
import { hostileCount } from './fanout-servers.ts';
import { crowdLeadMsFromEnv, type HostileTarget } from './hostile-crowd.ts';
import type { ListenerTarget } from './listener-pool.ts';
import type { LoadEvent, LoadGeneratorConfig, LoadResult } from './load-generator.ts';
import { GENERATOR_CORE, PinnedProcess } from './pinned-process.ts';
import { ProcessSampler } from './process-stats.ts';
import type { UploadTarget } from './stream-uploader.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.join(here, '..', '..');

/** A started server, ready for one stream and its listeners. */
export interface ServerUnderTest {
  pid: number;
  upload: UploadTarget;
  listen: ListenerTarget;
  /** A hostile row: where its hostile tenth connects. */
  hostile?: HostileTarget;
  close(): Promise<void>;
}

export interface ScenarioOptions {
  preset: FanoutPresetName;
  listeners: number;
  holdMs: number;
  graceMs: number;
  joinBudgetMs: number;
}

export interface ScenarioResult extends LoadResult {
  joinRatePerSec: number;
  serverCpuPct: number;
  serverPeakRssMb: number;
}

export class ScenarioError extends Error {
  readonly code = 'SCENARIO_FAILED' as const;
}

/** Starts a load generator process (pinned to its core); it waits for its config on stdin. */
export function spawnLoadGenerator(): PinnedProcess {
  return new PinnedProcess(
    'load generator',
    GENERATOR_CORE,
    process.execPath,
    ['--import', 'tsx', path.join(here, 'load-generator.ts')],
    { cwd: repoRoot },
  );
}

export async function runScenario(
  server: ServerUnderTest,
  gen: PinnedProcess,
  options: ScenarioOptions,
): Promise<ScenarioResult> {
  // A hostile row: N listeners of which a tenth hostile, the rest honest and measured.
  const hostile = server.hostile ? hostileCount(options.listeners) : 0;
  const config: LoadGeneratorConfig = {
    preset: options.preset,
    listeners: options.listeners - hostile,
    ...(server.hostile ? { hostile: { count: hostile, target: server.hostile } } : {}),
    upload: server.upload,
    listen: server.listen,
    holdMs: options.holdMs,
    graceMs: options.graceMs,
    joinConcurrency: 64,
    joinTimeoutMs: 30_000,
    joinBudgetMs: options.joinBudgetMs,
  };
  gen.child.stdin?.end(JSON.stringify(config) + '\n');
  const sampler = new ProcessSampler(server.pid);
  let result: LoadResult | null = null;
  let error: string | null = null;
  let serverStats: { cpuPct: number; peakRssBytes: number } | null = null;
  // Bounded: joining, a diagnosis lead (MXCAST_BENCH_CROWD_LEAD_S), holding and the grace
  // period, plus start-up and slack.
  const limitMs =
    config.joinBudgetMs +
    config.joinTimeoutMs +
    crowdLeadMsFromEnv() +
    options.holdMs +
    options.graceMs +
    30_000;
  const watchdog = setTimeout(() => {
    error = `load generator still running after ${limitMs} ms`;
    void gen.stop();
  }, limitMs);
  try {
    const lines = createInterface({ input: gen.child.stdout! });
    for await (const line of lines) {
      let e: LoadEvent;
      try {
        e = JSON.parse(line) as LoadEvent;
      } catch {
        continue;
      }
      if (e.event === 'hold-start') sampler.start();
      else if (e.event === 'hold-end') serverStats = sampler.stop();
      else if (e.event === 'result') result = e.result;
      else if (e.event === 'error') error = e.message;
    }
  } finally {
    clearTimeout(watchdog);
    await gen.stop();
  }
  if (!result || !serverStats) {
    throw new ScenarioError(
      `${options.preset} × ${options.listeners}: ${error ?? 'no result'}${gen.output ? ` (${gen.output.slice(-500)})` : ''}`,
    );
  }
  const stats = serverStats as { cpuPct: number; peakRssBytes: number };
  const r = result as LoadResult;
  return {
    ...r,
    joinRatePerSec: r.joined / (r.joinMs / 1000),
    serverCpuPct: stats.cpuPct,
    serverPeakRssMb: stats.peakRssBytes / 2 ** 20,
  };
}
