/**
 * Turns the rows of a fan-out run into the tables and the sentences under them: one table per
 * preset, each target of docs/benchmarks.md "Live fan-out" judged against the figures of the same
 * run, where each series broke first and why, and when the load generator itself was the limit.
 */
import { round, type BenchTable } from '../bench-kit.ts';
import { FANOUT_PRESETS, type FanoutPresetName } from './fanout-presets.ts';
import type { ScenarioResult } from './fanout-scenario.ts';
import { SERIES, type SeriesName } from './fanout-servers.ts';
import type { HostilePair } from './hostile-pairs.ts';
import type { SettleResult } from './tcp-settle.ts';
import type { WriteFloorResult } from './write-floor.ts';

export interface FanoutRow {
  preset: FanoutPresetName;
  series: SeriesName;
  listeners: number;
  result?: ScenarioResult;
  /** The write() floor's own figures (series `floor` only): CPU per write, pass times. */
  floor?: WriteFloorResult;
  /** A hostile row's clean/hostile pairs (hostile-pairs.ts); `result` is its median pair's hostile run. */
  pairs?: HostilePair[];
  /** A hostile row's wait for the rows before's TIME_WAIT sockets to expire (tcp-settle.ts). */
  settled?: SettleResult;
  error?: string;
}

export const COLUMNS = [
  'server',
  'transport',
  'N',
  'held',
  'p50 ms',
  'p99 ms',
  'max ms',
  'lost blocks',
  'dropped',
  'join/s',
  'server CPU %',
  'RSS MB',
  'load gen CPU %',
];

/** A generator this busy may be what delays arrivals: its rows are flagged. */
export const GENERATOR_SATURATED_PCT = 90;

/** What the load generator's core spent: the generator, and a hostile row's crowd beside it. */
export function generatorCoreCpuPct(r: {
  generatorCpuPct: number;
  hostile?: { crowdCpuPct: number | null };
}): number {
  return r.generatorCpuPct + (r.hostile?.crowdCpuPct ?? 0);
}
/** Past this p99 a server has fallen behind for good: larger N are not tried. */
export const BROKEN_P99_MS = 1000;

/** Why a row counts as broken (no larger N is tried after it), or null if it held. */
export function breakReason(row: FanoutRow): string | null {
  const r = row.result;
  if (!r) return `failed: ${row.error ?? 'no result'}`;
  const reasons: string[] = [];
  // r.listeners: the honest listeners asked for (a hostile row's hostile tenth is not counted).
  if (r.joined < r.listeners) {
    const why = Object.entries(r.joinFailures)
      .map(([k, v]) => `${v} × ${k}`)
      .join(', ');
    reasons.push(`${r.listeners - r.joined} of ${r.listeners} listeners could not join (${why})`);
  }
  if (r.dropped > 0) reasons.push(`${r.dropped} listeners dropped`);
  if (r.lostBlocks > 0) reasons.push(`${r.lostBlocks} blocks lost`);
  if (!(r.p99 <= BROKEN_P99_MS)) reasons.push(`p99 ${round(r.p99, 1)} ms (fell behind)`);
  return reasons.length ? reasons.join('; ') : null;
}

export function fmt(v: number, digits = 1): number | string {
  return Number.isFinite(v) ? round(v, digits) : '—';
}

export function table(preset: FanoutPresetName, rows: FanoutRow[], title: string): BenchTable {
  return {
    title,
    columns: COLUMNS,
    rows: rows
      .filter((r) => r.preset === preset)
      .map((row) => {
        const s = SERIES.find((x) => x.name === row.series);
        const head = [s?.server ?? row.series, s?.transport ?? '', row.listeners];
        const r = row.result;
        if (!r) return [...head, 'failed', '—', '—', '—', '—', '—', '—', '—', '—', '—'];
        return [
          ...head,
          r.held,
          fmt(r.p50),
          fmt(r.p99),
          fmt(r.max),
          r.lostBlocks,
          r.dropped,
          fmt(r.joinRatePerSec, 0),
          fmt(r.serverCpuPct, 0),
          fmt(r.serverPeakRssMb, 0),
          `${fmt(generatorCoreCpuPct(r), 0)}${generatorCoreCpuPct(r) >= GENERATOR_SATURATED_PCT ? ' (saturated)' : ''}`,
        ];
      }),
  };
}

/** Largest N of a series held whole at p99 ≤ `p99Ms` with nothing lost or dropped. */
export function bestHeld(
  rows: FanoutRow[],
  preset: FanoutPresetName,
  series: SeriesName,
  p99Ms: number,
): number {
  let best = 0;
  for (const row of rows) {
    const r = row.result;
    if (row.preset !== preset || row.series !== series || !r) continue;
    if (r.held === row.listeners && r.lostBlocks === 0 && r.dropped === 0 && r.p99 <= p99Ms) {
      best = Math.max(best, row.listeners);
    }
  }
  return best;
}

export function targetNotes(rows: FanoutRow[], icecastRan: boolean, largestN: number): string[] {
  const notes: string[] = [];
  const low = FANOUT_PRESETS['low-latency'].targetP99Ms;
  const voiceMs = FANOUT_PRESETS.voice.targetP99Ms;
  const ice = bestHeld(rows, 'low-latency', 'icecast-http', low);
  for (const series of ['relay-ws', 'relay-http'] as const) {
    const ours = bestHeld(rows, 'low-latency', series, low);
    const label = series === 'relay-ws' ? 'WebSocket' : 'HTTP';
    const verdict = !icecastRan
      ? 'not judged (no Icecast peer in this run)'
      : ours === 0 && ice === 0
        ? `not judged (neither server held even the smallest N at p99 ≤ ${low} ms)`
        : ours >= ice
          ? 'MET'
          : 'NOT MET';
    notes.push(
      `Target low-latency (${label}): ${verdict} — the relay held ${ours} listeners at p99 ≤ ${low} ms with none lost${icecastRan ? `; Icecast held ${ice} in the same run` : ''}.`,
    );
    const voice = bestHeld(rows, 'voice', series, voiceMs);
    notes.push(
      `Target voice (${label}): ${voice >= 10_000 ? 'MET' : 'NOT MET'} — the relay held ${voice} listeners at p99 ≤ ${voiceMs} ms with none lost (target 10000${largestN < 10_000 ? `; this run went up to ${largestN} only` : ''}).`,
    );
  }
  const floor = floorVoiceNote(rows);
  if (floor) notes.push(floor);
  return notes;
}

/**
 * The voice target against the write() floor of the same run: where even one bare write() per
 * listener per block misses p99 ≤ 100 ms at 10000, no server of this design can meet it here.
 */
function floorVoiceNote(rows: FanoutRow[]): string | null {
  const row = rows.find(
    (r) => r.series === 'floor' && r.preset === 'voice' && r.listeners === 10_000 && r.result,
  );
  if (!row?.result) return null;
  const p99 = row.result.p99;
  const perWrite = row.floor?.writer.cpuUsPerWrite;
  const cost = perWrite === undefined ? '' : ` (${fmt(perWrite, 1)} µs of CPU per write)`;
  const target = FANOUT_PRESETS.voice.targetP99Ms;
  return p99 <= target
    ? `The write() floor held voice N = 10000 at p99 ${fmt(p99)} ms${cost}: the voice target is within this machine's reach.`
    : `The write() floor itself reached only p99 ${fmt(p99)} ms at voice N = 10000${cost}: one bare write() per listener per block already takes longer than ${target} ms for 10000 listeners on this machine, so the voice target is below its floor for any server that writes each block to each listener.`;
}

export function breakNotes(rows: FanoutRow[]): string[] {
  const notes: string[] = [];
  for (const row of rows) {
    const why = breakReason(row);
    if (!why) continue;
    const s = SERIES.find((x) => x.name === row.series);
    notes.push(
      `${s?.server} over ${s?.transport}, ${row.preset}: broke at N = ${row.listeners}: ${why}.`,
    );
  }
  const saturated = rows.filter(
    (r) => r.result !== undefined && generatorCoreCpuPct(r.result) >= GENERATOR_SATURATED_PCT,
  );
  if (saturated.length) {
    notes.push(
      `The load generator used ≥ ${GENERATOR_SATURATED_PCT}% of its core in ${saturated.length} row(s) (marked "saturated"): there the delays include its own lag, so they are upper bounds for the server.`,
    );
  }
  return notes;
}

/**
 * What the write() floor rows are, and its writer's figures that have no column: CPU per
 * write and the time one pass over all listeners takes, per preset and N.
 */
export function floorNotes(rows: FanoutRow[], ran: boolean): string[] {
  if (!ran) return [];
  const notes = [
    "write() floor (C): bench/fanout/write-floor.c writes each block to every listener with one plain write() on a non-blocking loopback TCP socket (writer on core 0, an epoll reader on core 1 timing every block like the load generator) — no HTTP/WebSocket framing, no server logic: the least any server can spend on this machine. Its delay runs from the block's scheduled arrival at the writer (a writer still busy with the last block starts late, and that counts) to its last byte read. Its server CPU % is the writer's, its load gen CPU % the reader's, join/s the writer's accept rate; a write that would block or is short counts as a dropped listener.",
  ];
  for (const preset of ['low-latency', 'voice'] as const) {
    const figures = rows
      .filter((r) => r.series === 'floor' && r.preset === preset && r.floor)
      .map((r) => {
        const w = (r.floor as WriteFloorResult).writer;
        return `N = ${r.listeners}: ${fmt(w.cpuUsPerWrite, 1)} µs CPU per write, pass p50 ${fmt(w.passP50Ms)} / p99 ${fmt(w.passP99Ms)} ms`;
      });
    if (figures.length) {
      notes.push(
        `write() floor, ${preset} (writer CPU user+sys ÷ writes; pass = first to last write of one block): ${figures.join('; ')}.`,
      );
    }
  }
  return notes;
}
