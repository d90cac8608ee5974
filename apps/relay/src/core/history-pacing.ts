/**
 * One relay's history pacing (fanout/history-pacer.ts): its HistoryBudget, sized by
 * limits.historyBudgetBytes and rated by limits.historyBytesPerSecond, shared by every WebSocket
 * listener replaying history and every HTTP download reading stored bytes, and shown in /metrics. Made on first use, once per RelayCore
 * (kept beside it rather than in it, so RelayCore need not know about history readers).
 */
import type { RelayCore } from './relay-core.ts';
import { HistoryBudget } from '../fanout/history-budget.ts';
import type { HistoryPacing } from '../fanout/history-pacer.ts';

const pacings = new WeakMap<RelayCore, HistoryPacing>();

export function historyPacingOf(core: RelayCore): HistoryPacing {
  let pacing = pacings.get(core);
  if (pacing) return pacing;
  const { historyBudgetBytes, historyBytesPerSecond, historyReadBytes, listenerStallMs } =
    core.config.limits;
  const budget = new HistoryBudget(historyBudgetBytes, historyBytesPerSecond);
  pacing = {
    budget,
    // At least one block header and a few bytes: a read size of 0 would never progress.
    readBytes: Math.max(1024, historyReadBytes),
    stallMs: listenerStallMs,
    onStalled: () => core.metrics.listenersStalled++,
  };
  pacings.set(core, pacing);
  core.metrics.historyBudget = () => ({ inUse: budget.inUse, waiting: budget.waiting });
  return pacing;
}
