/**
 * `pnpm bench fanout`: the relay's live fan-out against Icecast 2.4 (docs/benchmarks.md).
 * For each preset (`low-latency`: 140-byte blocks 50 a second; `voice`: 1031-byte blocks every
 * 240 ms) and each series (relay + WebSocket, relay + HTTP, Icecast + HTTP), a fresh server
 * pinned to core 0 gets a real-time stream and N listeners from a load generator pinned to
 * core 1; N grows (100, 1000, 3000, 5000, 10000) until the series breaks. Each row holds its
 * listeners 30 s (3 s with --quick: one N of 100) after all have joined. A fourth series, the
 * write() floor (`floor`, bench/fanout/write-floor.ts), runs the same preset and N as one plain
 * write() per listener from C: the kernel's own cost, below which no server can go. Helpers
 * live in bench/fanout/.
 *
 * Series `relay-ws-hostile` runs, at N = 1000 and 3000, K pairs (`--pairs=K`; by default 15,
 * bench/fanout/hostile-pairs.ts `DEFAULT_PAIRS`) of a run with a tenth of N hostile
 * (bench/fanout/hostile-crowd.ts: stalled history readers of a 16 MiB finished media and
 * listener-WebSocket frame flooders), the rest honest at the live edge, and a clean relay
 * WebSocket run of those honest listeners alone, back to back on fresh relays; its notes judge
 * the median change of the honest p99 (target: within 10 %) and each hostile run's peak RSS
 * against its ceiling (its pair's clean peak + history budget + shared reads + 80 KiB per
 * hostile connection). Every preset's hostile rows run first, before the large rows, and each
 * waits for the TIME_WAIT sockets of the rows before to expire (fanout/run-order.ts,
 * fanout/tcp-settle.ts); the report lists the rows in preset and series order all the same.
 *
 * A targeted subset (the full run takes ~100 min on 2 cores): `--preset=voice`,
 * `--series=relay-ws,floor`, `--n=5000,10000` (tried in order, still stopping where a series
 * breaks), `--hold=SECONDS`, `--pairs=K`. Such a run is printed but not recorded (bench/run.ts),
 * so the JSON and docs hold only complete runs.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { BenchRefused, type BenchOptions, type BenchResult } from './bench-kit.ts';
import {
  FANOUT_PRESETS,
  type FanoutPreset,
  type FanoutPresetName,
} from './fanout/fanout-presets.ts';
import {
  breakNotes,
  breakReason,
  floorNotes,
  table,
  targetNotes,
  type FanoutRow,
} from './fanout/fanout-report.ts';
import { runScenario, spawnLoadGenerator, type ScenarioResult } from './fanout/fanout-scenario.ts';
import {
  SERIES,
  startServer,
  type StartOptions,
  type SeriesName,
  type ServerSeriesName,
} from './fanout/fanout-servers.ts';
import {
  DEFAULT_PAIRS,
  HOSTILE_LISTENERS,
  MAX_PAIRS,
  judgePairs,
  pairListeners,
  pairOrder,
  type HostilePair,
} from './fanout/hostile-pairs.ts';
import {
  crowdLeadMsFromEnv,
  crowdPlacementFromEnv,
  hostileOnlyFromEnv,
} from './fanout/hostile-crowd.ts';
import { hostileNotes } from './fanout/hostile-report.ts';
import { findIcecast } from './fanout/icecast-server.ts';
import { machineCpuTicks, stealPct } from './fanout/process-stats.ts';
import { outputDirFromEnv } from './fanout/pinned-process.ts';
import { createRelayDataTemplate, type RelayDataTemplate } from './fanout/relay-server.ts';
import { reportOrder, runOrder } from './fanout/run-order.ts';
import { settleTcp } from './fanout/tcp-settle.ts';
import { asScenarioResult, buildWriteFloor, runWriteFloor } from './fanout/write-floor.ts';

const FULL = {
  listeners: [100, 1000, 3000, 5000, 10_000],
  holdMs: 30_000,
  graceMs: 3000,
  joinBudgetMs: 60_000,
};
const QUICK = { listeners: [100], holdMs: 3000, graceMs: 1500, joinBudgetMs: 15_000 };
const PRESETS: FanoutPresetName[] = ['low-latency', 'voice'];

export interface Subset {
  presets: FanoutPresetName[];
  series: SeriesName[];
  listeners: number[] | null;
  holdMs: number | null;
  /** Clean/hostile pairs per hostile row (`--pairs=K`), or null for the default. */
  pairs: number | null;
  /** The options given, for the result's `partial`; empty when none narrowed the run. */
  given: string[];
}

/** Parses `--preset= --series= --n= --hold=` from argv; throws on an unknown value. */
export function parseSubset(argv: readonly string[]): Subset {
  const subset: Subset = {
    presets: PRESETS,
    series: SERIES.map((s) => s.name),
    listeners: null,
    holdMs: null,
    pairs: null,
    given: [],
  };
  const list = (v: string) => v.split(',').filter(Boolean);
  for (const arg of argv) {
    const m = /^--(preset|series|n|hold|pairs)=(.+)$/.exec(arg);
    if (!m) continue;
    const [, key, value] = m as unknown as [string, string, string];
    subset.given.push(arg);
    if (key === 'preset') {
      subset.presets = list(value).map((p) => {
        if (!PRESETS.includes(p as FanoutPresetName))
          throw new Error(`--preset: '${p}' is not one of ${PRESETS.join(', ')}`);
        return p as FanoutPresetName;
      });
    } else if (key === 'series') {
      subset.series = list(value).map((n) => {
        if (!SERIES.some((s) => s.name === n))
          throw new Error(`--series: '${n}' is not one of ${SERIES.map((s) => s.name).join(', ')}`);
        return n as SeriesName;
      });
    } else if (key === 'n') {
      subset.listeners = list(value).map((n) => {
        if (!/^\d{1,6}$/.test(n) || Number(n) < 1)
          throw new Error(`--n: '${n}' is not a listener count`);
        return Number(n);
      });
    } else if (key === 'pairs') {
      if (!/^\d{1,2}$/.test(value) || Number(value) < 1 || Number(value) > MAX_PAIRS)
        throw new Error(`--pairs: '${value}' is not a number of pairs from 1 to ${MAX_PAIRS}`);
      subset.pairs = Number(value);
    } else {
      if (!/^\d{1,4}$/.test(value) || Number(value) < 1)
        throw new Error(`--hold: '${value}' is not a number of seconds`);
      subset.holdMs = Number(value) * 1000;
    }
  }
  return subset;
}

/** File descriptors each process keeps besides its listener sockets. */
const FD_HEADROOM = 200;

function fdLimit(): number {
  try {
    return Number(execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim()) || 1024;
  } catch {
    return 1024;
  }
}

/**
 * The diagnosis switches set in the environment (MXCAST_BENCH_HOSTILE_ONLY,
 * MXCAST_BENCH_CROWD_LEAD_S, MXCAST_BENCH_CROWD other than its default), all of them joined, or
 * null. Read here, before any run, so a misspelt value stops the bench with its one-line error at
 * once instead of failing every hostile run an hour in (the load generator reads the same
 * variables). A subset run prints them among its notes, so its tables never pass for defaults.
 */
export function diagnosisSwitch(): string | null {
  const only = hostileOnlyFromEnv();
  const placement = crowdPlacementFromEnv();
  const leadMs = crowdLeadMsFromEnv();
  const set = [
    ...(only ? [`MXCAST_BENCH_HOSTILE_ONLY=${only}`] : []),
    ...(leadMs > 0 ? [`MXCAST_BENCH_CROWD_LEAD_S=${leadMs / 1000}`] : []),
    ...(placement === 'process' ? [] : [`MXCAST_BENCH_CROWD=${placement}`]),
  ];
  return set.length > 0 ? set.join(', ') : null;
}

/**
 * Why a run may not start, or null. A full run is recorded (bench/run.ts): it replaces the JSON
 * and docs/benchmarks.md, so one without the Icecast peer would drop the peer rows and every
 * target judged against them — found out an hour later. Refused at once instead; a subset
 * (printed, not recorded) or a quick run goes on without the peer. A full run with a diagnosis
 * switch set would record rows that measured something else: refused too.
 */
export function refusal(
  subset: Subset,
  quick: boolean,
  hasIcecast: boolean,
  diagnosis: string | null = null,
): string | null {
  if (quick || subset.given.length > 0) return null;
  if (diagnosis)
    return `a full run is recorded, and ${diagnosis} changes what its hostile rows measure (a diagnosis switch, docs/hostile-bench.md): unset it, or run a subset (e.g. --series=relay-ws-hostile --n=1000), which is printed, not recorded`;
  if (hasIcecast) return null;
  return `a full run is recorded and compares against Icecast 2.4, which is not installed: install it (\`sudo apt-get install -y icecast2\` on Debian/Ubuntu), or run a subset (e.g. --series=relay-ws), which is printed, not recorded`;
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const subset = parseSubset(process.argv.slice(2));
  const icecast = findIcecast();
  const icecastFound = 'binary' in icecast ? icecast : null;
  let diagnosis: string | null;
  try {
    diagnosis = diagnosisSwitch();
    // Every process the bench starts would tee into it: a wrong one stops the bench here.
    outputDirFromEnv();
  } catch (err) {
    throw new BenchRefused((err as Error).message);
  }
  const refused = refusal(subset, options.quick, icecastFound !== null, diagnosis);
  if (refused) throw new BenchRefused(refused);
  const plan = {
    ...(options.quick ? QUICK : FULL),
    ...(subset.listeners ? { listeners: subset.listeners } : {}),
    ...(subset.holdMs ? { holdMs: subset.holdMs } : {}),
  };
  const maxN = fdLimit() - FD_HEADROOM;
  const notes: string[] = [];
  const rows: FanoutRow[] = [];
  const started = performance.now();
  let relayData: RelayDataTemplate | null = null;
  try {
    relayData = await createRelayDataTemplate();
  } catch (err) {
    notes.push(
      `The relay could not be set up, so its rows were skipped: ${(err as Error).message}`,
    );
  }
  const wantFloor = subset.series.includes('floor');
  const floorBuild = wantFloor ? await buildWriteFloor() : null;
  const floor = floorBuild && 'binary' in floorBuild ? floorBuild : null;
  if (floorBuild && 'missing' in floorBuild) notes.push(floorBuild.missing);
  /** One row on a fresh server under a fresh load generator. */
  const runServerRow = async (
    name: ServerSeriesName,
    preset: FanoutPreset,
    listeners: number,
    serverOptions: StartOptions = {},
  ): Promise<{ result?: ScenarioResult; error?: string }> => {
    // The load generator starts up while the server does; it waits for its config on stdin.
    const gen = spawnLoadGenerator();
    try {
      const server = await startServer(
        name,
        preset,
        icecastFound,
        relayData,
        Math.max(...plan.listeners),
        serverOptions,
      );
      try {
        return {
          result: await runScenario(server, gen, {
            preset: preset.name,
            listeners,
            holdMs: plan.holdMs,
            graceMs: plan.graceMs,
            joinBudgetMs: plan.joinBudgetMs,
          }),
        };
      } finally {
        await server.close();
      }
    } catch (err) {
      return { error: (err as Error).message.slice(0, 400) };
    } finally {
      await gen.stop();
    }
  };
  const loadBefore = os.loadavg();
  const ticksBefore = machineCpuTicks();
  const seriesNames = SERIES.map((s) => s.name).filter((n) => subset.series.includes(n));
  for (const group of runOrder(subset.presets, seriesNames)) {
    const presetName = group.preset;
    const preset = FANOUT_PRESETS[presetName];
    const series = SERIES.find((s) => s.name === group.series)!;
    if (series.name === 'icecast-http' && !icecastFound) continue;
    if (series.name === 'floor' && !floor) continue;
    if (series.name.startsWith('relay-') && !relayData) continue;
    // A full run's hostile rows: at the N where the target means something (hostile-pairs.ts).
    const ns =
      series.name === 'relay-ws-hostile' && !subset.listeners && !options.quick
        ? HOSTILE_LISTENERS
        : plan.listeners;
    for (const listeners of ns) {
      if (listeners > maxN) {
        notes.push(
          `N = ${listeners} skipped: the file-descriptor limit (ulimit -Hn) allows ${maxN + FD_HEADROOM}.`,
        );
        break;
      }
      process.stderr.write(`fanout: ${presetName} ${series.name} N=${listeners}…\n`);
      const row: FanoutRow = { preset: presetName, series: series.name, listeners };
      const name = series.name;
      if (name === 'floor') {
        try {
          row.floor = await runWriteFloor((floor as { binary: string }).binary, preset, {
            listeners,
            holdMs: plan.holdMs,
            graceMs: plan.graceMs,
          });
          row.result = asScenarioResult(row.floor, plan.holdMs);
        } catch (err) {
          row.error = (err as Error).message.slice(0, 400);
        }
      } else if (name === 'relay-ws-hostile') {
        row.pairs = [];
        // The rows before must not end under one run of the first pair (tcp-settle.ts).
        const settled = options.quick ? null : await settleTcp({ quiet: listeners });
        if (settled && settled.waitedMs >= 1000)
          process.stderr.write(
            `fanout:   waited ${(settled.waitedMs / 1000).toFixed(0)} s for ${settled.before} TIME_WAIT sockets to expire (${settled.after} left)\n`,
          );
        if (settled) row.settled = settled;
        const pairs = subset.pairs ?? (options.quick ? 1 : DEFAULT_PAIRS);
        for (let k = 0; k < pairs; k++) {
          const pair: HostilePair = {};
          for (const side of pairOrder(k)) {
            process.stderr.write(`fanout:   pair ${k + 1} ${side}…\n`);
            // Both runs' relays hold the same finished history media (StartOptions), and both
            // time the same honest listeners (pairListeners).
            const run = await runServerRow(
              side === 'clean' ? 'relay-ws' : name,
              preset,
              pairListeners(side, listeners),
              { historyMedia: true },
            );
            if (run.result) pair[side] = run.result;
            else pair.error = [pair.error, `${side}: ${run.error}`].filter(Boolean).join('; ');
          }
          row.pairs.push(pair);
          process.stderr.write(
            `fanout:   pair ${k + 1}: clean p99 ${pair.clean?.p99.toFixed(1) ?? '—'} ms, hostile p99 ${pair.hostile?.p99.toFixed(1) ?? '—'} ms${pair.error ? ` (${pair.error})` : ''}\n`,
          );
        }
        const { representative } = judgePairs(row.pairs);
        const rep = representative === null ? undefined : row.pairs[representative];
        if (rep?.hostile) row.result = rep.hostile;
        else row.error = row.pairs.find((p) => p.error)?.error ?? 'no complete pair';
      } else {
        const run = await runServerRow(name, preset, listeners);
        if (run.result) row.result = run.result;
        else row.error = run.error;
      }
      rows.push(row);
      const r = row.result;
      const w = row.floor?.writer;
      process.stderr.write(
        `fanout:   ${r ? `held ${r.held}, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, lost ${r.lostBlocks}, dropped ${r.dropped}${w ? `, ${w.cpuUsPerWrite.toFixed(1)} µs CPU per write, pass p50 ${w.passP50Ms.toFixed(1)} / p99 ${w.passP99Ms.toFixed(1)} ms` : ''}` : row.error}\n`,
      );
      if (breakReason(row)) break;
    }
  }
  // The tables and notes read in preset and series order, whatever order the rows ran in.
  rows.splice(0, rows.length, ...reportOrder(rows, subset.presets, seriesNames));
  await relayData?.dispose();
  await floor?.dispose();
  const seconds = (performance.now() - started) / 1000;
  // The targets judge the servers: how far the floor went says nothing about them.
  const largestN = Math.max(0, ...rows.filter((r) => r.series !== 'floor').map((r) => r.listeners));
  const steal = stealPct(ticksBefore, machineCpuTicks());
  return {
    name: 'fanout',
    title: 'Live fan-out: mxcast relay vs Icecast 2.4',
    tables: (['low-latency', 'voice'] as const).map((p) =>
      table(
        p,
        rows,
        `${p}: ${FANOUT_PRESETS[p].blockBytes}-byte blocks every ${FANOUT_PRESETS[p].blockIntervalMs} ms (Icecast: ${FANOUT_PRESETS[p].oggPageBytes}-byte Ogg pages); ${plan.holdMs / 1000} s hold per row`,
      ),
    ),
    notes: [
      // First, so no reader of the tables takes them for the defaults.
      ...(diagnosis
        ? [
            `Diagnosis switches set: ${diagnosis}. The hostile rows measured something other than the defaults (docs/hostile-bench.md).`,
          ]
        : []),
      // A run of the peer or the floor alone has nothing to judge the relay by.
      ...(rows.some((r) => r.series.startsWith('relay-'))
        ? targetNotes(rows, icecastFound !== null, largestN)
        : []),
      ...hostileNotes(rows),
      ...breakNotes(rows),
      ...floorNotes(rows, floor !== null),
      ...(icecastFound
        ? [`Peer: ${icecastFound.version}.`]
        : [(icecast as { missing: string }).missing]),
      "Delay = arrival of a block's last byte at the listener − the uploader's send time of that block, on loopback (CLOCK_MONOTONIC, one machine); p50/p99/max over every listener × block of the hold. Lost = blocks sent during the hold that a listener held at its start had not received 3 s (1.5 s with --quick) after it.",
      'Server on core 0 and load generator on core 1 (taskset), each in its own session with autogroup nice −10; the machine is shared with other work, so figures vary between runs.',
      `Load average ${loadBefore.map((l) => l.toFixed(1)).join(' / ')} before, ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' / ')} after; the run took ${Math.round(seconds)} s.`,
      // Whether the host was busy: the same code measured on a contended host is slower in
      // every row, and a hostile row's pairs may differ by more (docs/hostile-bench.md,
      // 2026-12-05, evening).
      steal === null
        ? 'Host CPU steal: not readable here (/proc/stat).'
        : `Host CPU steal ${steal.toFixed(1)} % of the machine's CPU time over the run (/proc/stat: the hypervisor ran something else while a core had work).`,
      ...notes,
    ],
    raw: { plan, rows, seconds, loadBefore, loadAfter: os.loadavg(), stealPct: steal },
    ...(subset.given.length ? { partial: `a subset: ${subset.given.join(' ')}` } : {}),
  };
}
