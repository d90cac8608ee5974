/**
 * A made-up ScenarioResult for the report tests (fanout-report, hostile-report): every listener
 * joined and held for 30 s, 100 blocks each, latency p50 / p99 / max in a fixed ratio.
 */
import type { ScenarioResult } from './fanout-scenario.ts';

export function scenarioResult(
  listeners: number,
  p99: number,
  changes: Partial<ScenarioResult> = {},
): ScenarioResult {
  return {
    listeners,
    joined: listeners,
    joinFailures: {},
    joinMs: 1000,
    heldAtStart: listeners,
    held: listeners,
    dropped: 0,
    holdMs: 30_000,
    windowBlocks: 100,
    expectedBlocks: 100 * listeners,
    lostBlocks: 0,
    seqGaps: 0,
    skippedMessages: 0,
    samples: listeners * 100,
    p50: p99 / 2,
    p99,
    max: p99 * 1.5,
    generatorCpuPct: 40,
    joinRatePerSec: 1000,
    serverCpuPct: 70,
    serverPeakRssMb: 150,
    ...changes,
  };
}
