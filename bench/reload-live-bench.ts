/**
 * `pnpm bench reload-live`: does reloading an archived broadcast hurt the live ones? A real relay
 * process (bench/fanout/relay-server.ts, pinned to core 0) starts on a data directory holding a
 * finished 24-hour `voice` broadcast (1031-byte blocks, 15 000 an hour, ≈ 370 MB; the same file
 * bench/reload-bench.ts builds), so that media is not loaded yet. The fan-out load generator
 * (bench/fanout/load-generator.ts, pinned to core 1) uploads another `voice` broadcast in real
 * time and holds N WebSocket listeners at its live edge; their delay (arrival of a block's last
 * byte − its send time) is measured over the hold, exactly as in the fan-out tables. Two rows,
 * each on a fresh relay: the hold alone, and the hold with the archive's first read (its reload:
 * stat, block runs from the database, the sha256 checked by chunked async reads —
 * apps/relay/src/storage/media-verify.ts) started as the hold starts. Target: the listeners' p99
 * during the reload within 10 ms of their p99 without it.
 *
 * The reload covers only part of the hold (its time and share are reported); the archive is not
 * downloaded, so what the row adds is the reload alone. Options (a narrowed run is printed, not
 * recorded): `--hours=` (archive length, fractions allowed), `--n=` (listeners), `--hold=` (s).
 */
import { createInterface } from 'node:readline';
import { startRelay } from '@mxcast/relay';
import { round, type BenchOptions, type BenchResult } from './bench-kit.ts';
import { FANOUT_PRESETS } from './fanout/fanout-presets.ts';
import { spawnLoadGenerator, type ServerUnderTest } from './fanout/fanout-scenario.ts';
import { startServer } from './fanout/fanout-servers.ts';
import type { LoadEvent, LoadGeneratorConfig, LoadResult } from './fanout/load-generator.ts';
import { createRelayDataTemplate, type RelayDataTemplate } from './fanout/relay-server.ts';
import { BLOCKS_PER_HOUR, uploadVoiceArchive } from './reload-bench.ts';

const P = '/_matrix/media/unstable/org.matrix.msc4016';
/** The p99 a reload may add to the live listeners' (the target). */
const TARGET_MS = 10;

interface Plan {
  hours: number;
  listeners: number;
  holdMs: number;
  graceMs: number;
  joinBudgetMs: number;
}

const FULL: Plan = {
  hours: 24,
  listeners: 1000,
  // Short, so the reload is a fair share of the hold's samples (1000 × 4 s / 240 ms ≈ 16 700; a
  // p99 moves only if over 1 % are late). A 1 h archive reloaded in 20 ms in a smoke run, so 24 h
  // should take ≈ 0.5 s on a warm cache: an estimate, the full run reports it.
  holdMs: 4000,
  graceMs: 3000,
  joinBudgetMs: 60_000,
};
const QUICK: Plan = { hours: 1, listeners: 100, holdMs: 3000, graceMs: 1500, joinBudgetMs: 15_000 };

/** `--hours= --n= --hold=` from argv (a narrowed run); throws on a value that is not a number. */
export function parseReloadLiveArgs(argv: readonly string[]): Partial<Plan> {
  const out: Partial<Plan> = {};
  for (const arg of argv) {
    const m = /^--(hours|n|hold)=(.*)$/.exec(arg);
    if (!m) continue;
    const v = Number(m[2]);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`reload-live: bad ${arg}`);
    if (m[1] === 'hours') out.hours = v;
    else if (m[1] === 'n') out.listeners = Math.round(v);
    else out.holdMs = v * 1000;
  }
  return out;
}

interface Reload {
  /** From the start of the hold to the archive's index answered (the reload). */
  reloadMs: number;
}

interface Row {
  what: string;
  result: LoadResult;
  reload: Reload | null;
}

/** Reloads the archive: its first read after the relay started, answered once checked. */
async function reloadArchive(port: number, media: string): Promise<Reload> {
  const base = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  const index = await fetch(`${base}${P}/index/${media}`);
  const body = (await index.json()) as { state?: string };
  if (index.status !== 200 || body.state !== 'complete')
    throw new Error(`archive index: ${index.status} ${JSON.stringify(body)}`);
  return { reloadMs: performance.now() - t0 };
}

/**
 * One row: the load generator's run (as bench/fanout/fanout-scenario.ts's runScenario, without
 * the process sampler), with `onHold` started when the hold starts and awaited before the result.
 */
async function runRow(
  server: ServerUnderTest,
  plan: Plan,
  onHold: (() => Promise<Reload>) | null,
): Promise<{ result: LoadResult; reload: Reload | null }> {
  const gen = spawnLoadGenerator();
  const config: LoadGeneratorConfig = {
    preset: 'voice',
    listeners: plan.listeners,
    upload: server.upload,
    listen: server.listen,
    holdMs: plan.holdMs,
    graceMs: plan.graceMs,
    joinConcurrency: 64,
    joinTimeoutMs: 30_000,
    joinBudgetMs: plan.joinBudgetMs,
  };
  gen.child.stdin?.end(JSON.stringify(config) + '\n');
  let result: LoadResult | null = null;
  let error: string | null = null;
  let reload: Promise<Reload> | null = null;
  const limitMs = plan.joinBudgetMs + 30_000 + plan.holdMs + plan.graceMs + 30_000;
  const watchdog = setTimeout(() => {
    error = `load generator still running after ${limitMs} ms`;
    void gen.stop();
  }, limitMs);
  try {
    for await (const line of createInterface({ input: gen.child.stdout! })) {
      let e: LoadEvent;
      try {
        e = JSON.parse(line) as LoadEvent;
      } catch {
        continue;
      }
      if (e.event === 'hold-start' && onHold) reload = onHold();
      else if (e.event === 'result') result = e.result;
      else if (e.event === 'error') error = e.message;
    }
  } finally {
    clearTimeout(watchdog);
    await gen.stop();
  }
  const reloaded = reload ? await reload : null;
  if (!result) throw new Error(`reload-live: ${error ?? 'no result'} (${gen.output.slice(-500)})`);
  return { result, reload: reloaded };
}

/** The template data dir: the bench token plus the finished archive; returns its media path. */
async function buildArchive(template: RelayDataTemplate, hours: number): Promise<string> {
  const relay = await startRelay({ dataDir: template.dir, port: 0 });
  try {
    return await uploadVoiceArchive(relay, template.token, Math.round(hours * BLOCKS_PER_HOUR));
  } finally {
    await relay.close();
  }
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const narrowed = parseReloadLiveArgs(process.argv.slice(2));
  const plan: Plan = { ...(options.quick ? QUICK : FULL), ...narrowed };
  const preset = FANOUT_PRESETS.voice;
  const blocks = Math.round(plan.hours * BLOCKS_PER_HOUR);
  const mb = (blocks * preset.blockBytes + 4) / 1e6;
  const template = await createRelayDataTemplate();
  const rows: Row[] = [];
  try {
    const media = await buildArchive(template, plan.hours);
    for (const withReload of [false, true]) {
      const server = await startServer('relay-ws', preset, null, template, plan.listeners);
      try {
        const { result, reload } = await runRow(
          server,
          plan,
          withReload ? () => reloadArchive(server.upload.port, media) : null,
        );
        rows.push({
          what: withReload ? `during the reload of the ${plan.hours} h archive` : 'no reload',
          result,
          reload,
        });
      } finally {
        await server.close();
      }
    }
  } finally {
    await template.dispose();
  }
  const [base, loaded] = rows as [Row, Row];
  const added = loaded.result.p99 - base.result.p99;
  const cover = loaded.reload ? Math.min(1, loaded.reload.reloadMs / base.result.holdMs) : 0;
  return {
    name: 'reload-live',
    title: 'Reloading an archived broadcast while live listeners are served',
    tables: [
      {
        title: `${plan.listeners} WebSocket listeners of a live \`voice\` broadcast, real relay process, ${plan.holdMs / 1000} s hold`,
        columns: [
          'row',
          'held',
          'samples',
          'p50 ms',
          'p99 ms',
          'max ms',
          'lost blocks',
          'reload ms',
        ],
        rows: rows.map((r) => [
          r.what,
          `${r.result.held}/${r.result.listeners}`,
          r.result.samples,
          round(r.result.p50, 1),
          round(r.result.p99, 1),
          round(r.result.max, 1),
          r.result.lostBlocks,
          r.reload ? round(r.reload.reloadMs, 0) : '—',
        ]),
      },
    ],
    notes: [
      `Archive: ${plan.hours} h of \`voice\` (${blocks} blocks of ${preset.blockBytes} bytes, ${round(mb, 0)} MB), written just before (warm page cache); reload = its first read after the relay started (index answered: stat, block runs, async sha256).`,
      `p99 during the reload − p99 without: ${round(added, 1)} ms (target ≤ ${TARGET_MS} ms: ${added <= TARGET_MS ? 'met' : 'NOT met'}); the reload covered ${round(cover * 100, 0)} % of the hold.`,
      'Delay = arrival of a block’s last byte at the listener − the uploader’s send time (CLOCK_MONOTONIC, loopback, one machine), over every listener × block of the hold.',
    ],
    raw: { plan, mb, rows },
    ...(Object.keys(narrowed).length
      ? {
          partial: `narrowed by ${process.argv.filter((a) => /^--(hours|n|hold)=/.test(a)).join(' ')}`,
        }
      : {}),
  };
}
