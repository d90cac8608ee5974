/**
 * Blocking playlist reload (RFC 8216bis §6.2.5.2): a player asks for the playlist with
 * `_HLS_msn=M` (and `_HLS_part=P`) and the relay holds the request until that segment (or that
 * part of it) is stored, so a new part reaches players the moment it exists instead of at their
 * next poll. The hold is bounded: by limits.hlsBlockingReloadMs (then the current playlist is
 * answered, and the player asks again), by the media ending, and by the request going away. A
 * held request is one open connection of its client, so limits.maxConnectionsPerAddress bounds
 * how many one client can hold; each costs a timer and two small closures, never a buffer.
 */
import type { MediaRecord } from '../storage/media-record.ts';
import type { HubListener } from '../fanout/media-hub.ts';
import type { RelayMetrics } from './relay-metrics.ts';
import { blocksFor, liveEdge, type HlsLayout } from './ll-hls-playlist.ts';
import { RelayError } from './relay-error.ts';

export interface BlockingReload {
  msn: number;
  part: number | null;
}

/** The `_HLS_msn` / `_HLS_part` directives of a playlist URL, or null when there are none. */
export function parseBlockingReload(url: URL): BlockingReload | null {
  const msn = url.searchParams.get('_HLS_msn');
  const part = url.searchParams.get('_HLS_part');
  if (msn === null) {
    if (part !== null)
      throw new RelayError('M_INVALID_PARAM', '_HLS_part without _HLS_msn (RFC 8216bis §6.2.5.2)');
    return null;
  }
  const int = (name: string, v: string) => {
    if (!/^\d{1,9}$/.test(v))
      throw new RelayError('M_INVALID_PARAM', `${name} must be a non-negative integer, got '${v}'`);
    return Number(v);
  };
  return { msn: int('_HLS_msn', msn), part: part === null ? null : int('_HLS_part', part) };
}

/**
 * Resolves once the playlist holds what `want` asks for, the media is no longer live, `signal`
 * aborts or `timeoutMs` passes. A request for a segment more than two past the one being written
 * is refused (§6.2.5.2: "the server MUST return 400"): nobody can hold it that long.
 */
export function waitForPart(
  rec: MediaRecord,
  layout: HlsLayout,
  want: BlockingReload,
  timeoutMs: number,
  metrics: RelayMetrics,
  signal?: AbortSignal,
): Promise<void> {
  const live = () => rec.state === 'live' || rec.state === 'pending';
  if (!live()) return Promise.resolve();
  if (want.msn > liveEdge(rec, layout).msn + 2)
    throw new RelayError(
      'M_INVALID_PARAM',
      `_HLS_msn=${want.msn} is more than two segments past the live edge (RFC 8216bis §6.2.5.2)`,
    );
  const count = blocksFor(layout, want.msn, want.part);
  const waiting = () => live() && rec.blockCount < count && !signal?.aborted;
  if (!waiting() || timeoutMs <= 0) return Promise.resolve();
  metrics.hlsBlockingReloads.held++;
  return new Promise((resolve) => {
    let over = false;
    // Once only: a fan-out slice may still call the stand-in after a timeout removed it.
    const done = () => {
      if (over) return;
      over = true;
      metrics.hlsBlockingReloads.held--;
      clearTimeout(timer);
      rec.hub.remove(standIn);
      rec.changeWaiters.delete(onChange);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    // Blocks arrive through the hub (they notify no changeWaiters); state changes without a
    // hub end (pending → live) through changeWaiters, which are cleared on each notification.
    const onChange = () => (waiting() ? rec.changeWaiters.add(onChange) : done());
    const standIn: HubListener = {
      onBlock: (block) => void (block.seq + block.count >= count && done()),
      onEnd: done,
    };
    const timer = setTimeout(() => {
      metrics.hlsBlockingReloads.timedOut++;
      done();
    }, timeoutMs);
    rec.hub.add(standIn);
    rec.changeWaiters.add(onChange);
    signal?.addEventListener('abort', done, { once: true });
  });
}
