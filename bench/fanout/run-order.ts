/**
 * The order of a fan-out run's rows: every preset's hostile rows first, then each preset's other
 * series in SERIES order. Why first: in a same-hour comparison the `voice` N = 3000 hostile row
 * measured higher right after an N = 10000 row than after other work — a pair of it slower with
 * the crowd in 67 % of comparisons, 25 pairs each way, and not only in its first pair — so the
 * large rows before it left the machine in a state that weighs on the hostile runs more than on
 * the clean ones, for minutes (docs/hostile-bench.md, 2026-12-06, afternoon). The cause is not
 * known; the hostile rows measure what the crowd costs, not that.
 */
import type { SeriesName } from './fanout-servers.ts';

export interface RowGroup<P extends string> {
  preset: P;
  series: SeriesName;
}

export function runOrder<P extends string>(
  presets: readonly P[],
  series: readonly SeriesName[],
): RowGroup<P>[] {
  const hostile = (s: SeriesName) => s === 'relay-ws-hostile';
  return [
    ...presets.flatMap((preset) => series.filter(hostile).map((s) => ({ preset, series: s }))),
    ...presets.flatMap((preset) =>
      series.filter((s) => !hostile(s)).map((s) => ({ preset, series: s })),
    ),
  ];
}

/** Rows back in report order (preset, then SERIES order), each series' rows as they ran. */
export function reportOrder<R extends { preset: string; series: SeriesName }>(
  rows: readonly R[],
  presets: readonly string[],
  series: readonly SeriesName[],
): R[] {
  const key = (r: R) => presets.indexOf(r.preset) * series.length + series.indexOf(r.series);
  return [...rows].sort((a, b) => key(a) - key(b));
}
