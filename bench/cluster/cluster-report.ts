/**
 * Turns the rows of `pnpm bench cluster` into its tables and the sentences under them: relay-added
 * delay of a node tailing through JetStream against the single-process relay (target: cluster p99
 * at most 5 ms more), the JetStream cost per block, and the listeners a node holds at p99 ≤ 100 ms
 * (voice) next to the single-process relay's figure.
 */
import { round, table, type BenchTable } from '../bench-kit.ts';
import type { ScenarioResult } from '../fanout/fanout-scenario.ts';
import type { CostRow } from './jetstream-cost.ts';

/** The target (docs/benchmarks.md): a node tailing through JetStream adds at most this much to the p99. */
export const TARGET_EXTRA_P99_MS = 5;
/** The capacity bound: listeners count as held at a p99 up to this. */
export const CAPACITY_P99_MS = 100;

export type Setup = 'single' | 'cluster';

export interface ClusterRow {
  /** `delay`: the like-for-like comparison at one N; `capacity`: the listener steps. */
  phase: 'delay' | 'capacity';
  setup: Setup;
  listeners: number;
  result?: ScenarioResult;
  error?: string;
}

const SETUP_LABEL: Record<Setup, string> = {
  single: 'single process (embedded store)',
  cluster: 'cluster: upload on node A, listeners on node B (JetStream tail)',
};

function fmt(v: number | undefined, digits = 1): number | string {
  return v !== undefined && Number.isFinite(v) ? round(v, digits) : '—';
}

/** Why a row does not count as held (null if it does): joins, drops, losses, the p99 bound. */
export function failure(row: ClusterRow, p99Bound = CAPACITY_P99_MS): string | null {
  const r = row.result;
  if (!r) return `failed: ${row.error ?? 'no result'}`;
  const why: string[] = [];
  if (r.joined < r.listeners) why.push(`${r.listeners - r.joined} of ${r.listeners} not joined`);
  if (r.dropped > 0) why.push(`${r.dropped} dropped`);
  if (r.lostBlocks > 0) why.push(`${r.lostBlocks} blocks lost`);
  if (!(r.p99 <= p99Bound)) why.push(`p99 ${fmt(r.p99)} ms > ${p99Bound} ms`);
  return why.length ? why.join('; ') : null;
}

/** The largest N of a setup's capacity steps that held (0 when none did). */
export function lastPassing(rows: readonly ClusterRow[], setup: Setup): number {
  return Math.max(
    0,
    ...rows
      .filter((r) => r.phase === 'capacity' && r.setup === setup && failure(r) === null)
      .map((r) => r.listeners),
  );
}

const DELAY_COLUMNS = [
  'setup',
  'N',
  'held',
  'p50 ms',
  'p99 ms',
  'max ms',
  'lost blocks',
  'dropped',
  'listener node CPU %',
  'listener node RSS MB',
];

function scenarioCells(row: ClusterRow): (string | number)[] {
  const r = row.result;
  if (!r) return ['failed', '—', '—', '—', '—', '—', '—', '—'];
  return [
    r.held,
    fmt(r.p50),
    fmt(r.p99),
    fmt(r.max),
    r.lostBlocks,
    r.dropped,
    fmt(r.serverCpuPct, 0),
    fmt(r.serverPeakRssMb, 0),
  ];
}

export function delayTable(rows: readonly ClusterRow[], title: string): BenchTable {
  const delay = rows.filter((r) => r.phase === 'delay');
  const body = delay.map((r) => [SETUP_LABEL[r.setup], r.listeners, ...scenarioCells(r)]);
  const single = delay.find((r) => r.setup === 'single')?.result;
  const cluster = delay.find((r) => r.setup === 'cluster')?.result;
  if (single && cluster) {
    body.push([
      'difference (cluster − single)',
      '',
      '',
      fmt(cluster.p50 - single.p50),
      fmt(cluster.p99 - single.p99),
      fmt(cluster.max - single.max),
      '',
      '',
      '',
      '',
    ]);
  }
  return table(title, DELAY_COLUMNS, body);
}

export function delayNotes(rows: readonly ClusterRow[]): string[] {
  const single = rows.find((r) => r.phase === 'delay' && r.setup === 'single');
  const cluster = rows.find((r) => r.phase === 'delay' && r.setup === 'cluster');
  if (!single?.result || !cluster?.result) {
    const missing = [single, cluster]
      .map((r, i) =>
        r?.result ? null : `${i === 0 ? 'single' : 'cluster'}: ${r?.error ?? 'not run'}`,
      )
      .filter((m): m is string => m !== null);
    return [
      `Target (cluster p99 ≤ single-process p99 + ${TARGET_EXTRA_P99_MS} ms): not judged (${missing.join('; ')}).`,
    ];
  }
  const s = single.result;
  const c = cluster.result;
  const extra = c.p99 - s.p99;
  const whole =
    failure(single, Number.POSITIVE_INFINITY) ?? failure(cluster, Number.POSITIVE_INFINITY);
  const met = extra <= TARGET_EXTRA_P99_MS && whole === null;
  return [
    `Target (cluster p99 ≤ single-process p99 + ${TARGET_EXTRA_P99_MS} ms, ${c.listeners} listeners): ${
      met ? 'MET' : 'NOT MET'
    } — p99 ${fmt(c.p99)} ms against ${fmt(s.p99)} ms (${extra >= 0 ? '+' : ''}${fmt(extra)} ms)${
      whole ? `; not every listener held every block (${whole})` : ''
    }.`,
  ];
}

export function capacityTable(rows: readonly ClusterRow[], title: string): BenchTable {
  return table(
    title,
    [...DELAY_COLUMNS, `p99 ≤ ${CAPACITY_P99_MS} ms`],
    rows
      .filter((r) => r.phase === 'capacity')
      .map((r) => [
        SETUP_LABEL[r.setup],
        r.listeners,
        ...scenarioCells(r),
        failure(r) === null ? 'yes' : `no (${failure(r)})`,
      ]),
  );
}

export function capacityNotes(rows: readonly ClusterRow[]): string[] {
  const tried = (s: Setup) => rows.some((r) => r.phase === 'capacity' && r.setup === s);
  const say = (s: Setup): string => {
    if (!tried(s)) return 'not run';
    const n = lastPassing(rows, s);
    return n > 0 ? String(n) : 'none of the steps';
  };
  return [
    `Listeners per node at p99 ≤ ${CAPACITY_P99_MS} ms (voice, WebSocket): cluster node ${say('cluster')}, single-process relay ${say('single')} (the last step that held every listener and block; steps stop at the first that did not).`,
  ];
}

export function costTable(rows: readonly CostRow[], title: string): BenchTable {
  const label: Record<CostRow['operation'], string> = {
    append: 'append (publish + ack, exactly-once headers)',
    read: 'read by index (one direct get)',
    tail: 'read by live tail (ordered consumer)',
    upload: 'node A taking the live upload (PUT, validation, append), delay row',
  };
  return table(
    title,
    [
      'operation',
      'blocks',
      'block bytes',
      'replicas',
      'wall µs/block',
      'relay CPU µs/block',
      'nats-servers CPU µs/block',
    ],
    rows.map((r) => [
      label[r.operation],
      r.blocks,
      r.blockBytes,
      fmt(r.replicas, 0),
      fmt(r.wallUsPerBlock, 0),
      fmt(r.relayCpuUsPerBlock, 0),
      fmt(r.natsCpuUsPerBlock, 0),
    ]),
  );
}
