/**
 * One relay's history pacing (fanout/history-pacer.ts): its HistoryBudget, sized by
 * limits.historyBudgetBytes and rated by limits.historyBytesPerSecond, shared by every WebSocket
 * listener replaying history and every HTTP download reading stored bytes, and shown in /metrics.
 * Made on first use, once per RelayCore
 * (kept beside it rather than in it, so RelayCore need not know about history readers).
 */
import { readFileSync } from 'node:fs';
import type { RelayCore } from './relay-core.ts';
import { HistoryBudget } from '../fanout/history-budget.ts';
import type { HistoryPacing } from '../fanout/history-pacer.ts';

const pacings = new WeakMap<RelayCore, HistoryPacing>();

/** When the kernel's TCP buffer sizes cannot be read (not Linux): a generous guess. */
const FALLBACK_KERNEL_BYTES = 16 * 1024 ** 2;

/** A number from a /proc/sys/net file (`field` of its whitespace-separated values), or NaN. */
export type NetSysctl = (file: string, field?: number) => number;

const readNetSysctl: NetSysctl = (file, field = 0) => {
  try {
    return Number(readFileSync(`/proc/sys/net/${file}`, 'utf8').trim().split(/\s+/)[field]);
  } catch {
    return NaN;
  }
};

/**
 * The most a TCP socket can take without its peer reading a byte: our send queue at its largest
 * plus the peer's receive window, which grows past its initial size (tcp_rmem's default) only as
 * the peer's application reads, or to what it asks with SO_RCVBUF (at most net.core.rmem_max,
 * doubled by the kernel) — on this host's settings, the peer's being the same or unknown. Plus the
 * node socket's own 16 KiB high-water mark. Our send queue grows to net.ipv4.tcp_wmem's maximum,
 * unless net.ipv4.tcp_notsent_lowat is set: then the kernel takes no more once that many bytes
 * wait unsent (plus at most the one 64 KiB write that crossed it), and a peer that does not read
 * leaves everything unsent (docs/operations.md "Listeners and memory"). `socketLowat`: the cap the
 * relay set on each of its sockets itself (limits.socketUnsentBytes), which replaces the host's.
 */
export function kernelHoldBytes(sysctl: NetSysctl = readNetSysctl, socketLowat = 0): number {
  const lowat = socketLowat > 0 ? socketLowat : sysctl('ipv4/tcp_notsent_lowat');
  const send = Math.min(
    sysctl('ipv4/tcp_wmem', 2),
    Number.isFinite(lowat) ? lowat + 64 * 1024 : Infinity,
  );
  const receive = Math.max(sysctl('ipv4/tcp_rmem', 1), 2 * sysctl('core/rmem_max'));
  const total = send + receive + 16 * 1024;
  return Number.isFinite(total) && total > 0 ? total : FALLBACK_KERNEL_BYTES;
}

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
    // Past this a reader's peer has read: it leaves the rate (history-budget.ts).
    readingAfterBytes: kernelHoldBytes(undefined, core.socketUnsentBytes),
  };
  pacings.set(core, pacing);
  core.metrics.historyBudget = () => ({ inUse: budget.inUse, waiting: budget.waiting });
  return pacing;
}
