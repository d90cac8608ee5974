/** Reading the relay's `/metrics` (Prometheus text exposition format 0.0.4) in the bench. */

/**
 * Sums the samples of metric `name` in Prometheus text — those with exactly `labels` (e.g.
 * `{action="stalled"}`) when given, else all of them — or null when there is none.
 */
export function metricSum(text: string, name: string, labels?: string): number | null {
  let sum: number | null = null;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name || (labels !== undefined && (m[2] ?? '') !== labels)) continue;
    const v = Number(m[3]);
    if (Number.isFinite(v)) sum = (sum ?? 0) + v;
  }
  return sum;
}
