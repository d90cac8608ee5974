/**
 * What every benchmark module exports, and the helpers they share. A benchmark is
 * `bench/<name>-bench.ts` exporting `run(options) → BenchResult`; `pnpm bench <name>` runs it,
 * prints its tables, writes bench/results/<name>.json and regenerates docs/benchmarks.md.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

export interface BenchOptions {
  /** Shorter runs for `pnpm bench --quick` (the whole suite in under 5 minutes). */
  quick: boolean;
}

export interface BenchTable {
  title: string;
  columns: string[];
  rows: (string | number)[][];
}

/** One table of a result, in the order the report prints its parts. */
export function table(title: string, columns: string[], rows: BenchTable['rows']): BenchTable {
  return { title, columns, rows };
}

export interface BenchResult {
  /** Short name, as on the command line: format, capture, player, fanout, web. */
  name: string;
  title: string;
  tables: BenchTable[];
  /** Sentences printed under the tables: targets met or not, peers, caveats. */
  notes: string[];
  /** Anything else worth keeping in the JSON. */
  raw?: unknown;
  /**
   * Set (to why) when the run covered only part of the benchmark's tables (e.g. `fanout
   * --preset=voice`): the runner prints it but keeps the recorded JSON and docs/benchmarks.md.
   */
  partial?: string;
}

/**
 * A benchmark that will not start, for a reason its user can fix (a missing peer): the runner
 * prints the message as one line, with no stack, records nothing for it, runs the others and
 * exits 2 at the end (bench/run.ts).
 */
export class BenchRefused extends Error {
  override readonly name = 'BenchRefused';
}

export interface RecordedResult extends BenchResult {
  command: string;
  date: string;
  machine: string;
  /**
   * The commit measured, with " + uncommitted changes" when the tree differed from it; absent in
   * results recorded before it was kept, and when git cannot tell.
   */
  code?: string;
}

export function machineDescription(): string {
  const cpus = os.cpus();
  return `${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown CPU'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/**
 * Which code a run measured (`root`: the repository, by default this one): a figure is only
 * comparable with another run of the same code, and a result file outlives the tree it came from.
 */
export function codeDescription(root: string = repoRoot): string | undefined {
  const git = (...args: string[]): string =>
    execFileSync('git', args, {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  try {
    const commit = git('rev-parse', '--short', 'HEAD').trim();
    // bench/results and docs/benchmarks.md are what a run writes, so they do not count as changes.
    const changed = git(
      'status',
      '--porcelain',
      '--',
      '.',
      ':!bench/results',
      ':!docs/benchmarks.md',
    );
    return changed.trim() === '' ? commit : `${commit} + uncommitted changes`;
  } catch {
    return undefined;
  }
}

/**
 * CPU time (user + system) this process has used, in milliseconds. The benches that time work on
 * one core use it rather than wall time: waiting for one of the shared machine's cores is not ours.
 */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Percentile of an unsorted sample (nearest-rank); NaN for an empty one. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function renderTable(table: BenchTable): string {
  const head = `| ${table.columns.join(' | ')} |`;
  const rule = `| ${table.columns.map(() => '---').join(' | ')} |`;
  const rows = table.rows.map((r) => `| ${r.join(' | ')} |`);
  return [`**${table.title}**`, '', head, rule, ...rows].join('\n');
}
