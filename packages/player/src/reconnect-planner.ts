/**
 * The reconnect path (docs/player.md "Reconnecting"): after a dropped leg or a clean end
 * without EOS, wait (doubling backoff), ask the relay's index whether there is more, and resume
 * from the block after the last one that authenticated — no gap, no repeat — or end without
 * finishing when the relay says the media is complete and nothing is left. With other nodes of a
 * relay cluster given (`fallbackRelayUrls`), each reconnect goes to the next node: any node
 * serves any media from any block (docs/operations.md "Cluster"), so a dead node costs one
 * reconnect, not the broadcast.
 */
import type { SourceEnd, SourceStart } from './block-source.ts';
import { isTransientIndexError } from './index-fetch-retry.ts';
import { isPlayerError } from './player-error.ts';
import type { PlayerOutcome } from './player-options.ts';
import type { PlayerSession } from './player-session.ts';
import { fetchIndex } from './relay-index.ts';

export type ResumePoint = { start: SourceStart } | { outcome: PlayerOutcome };

/** After a drop or an end without EOS: ask the relay whether there is more, and where to resume. */
export async function resumePoint(
  s: PlayerSession,
  reason: string,
  attempt: number,
  end?: SourceEnd,
): Promise<ResumePoint> {
  const last = s.pipeline.last;
  const fromSeq = (last?.seq ?? -1) + 1;
  const offset = last?.next ?? 0;
  if (end?.kind === 'ended' && end.state !== 'unknown') {
    return { outcome: await endWithoutEos(s) };
  }
  s.countReconnect();
  s.nextRelay();
  s.machine.to('buffering');
  s.emit('reconnecting', { attempt, fromSeq, offset, reason });
  const base = s.options.reconnectDelayMs ?? 100;
  await sleep(
    Math.min(s.options.maxReconnectDelayMs ?? 2000, base * 2 ** Math.min(attempt - 1, 8)),
  );
  if (s.stopped) return { outcome: { state: 'stopped' } };
  try {
    s.countRequest();
    const index = await fetchIndex(s.location, s.fetch);
    s.sawLiveEdge(index.block_count);
    if (
      (index.state === 'complete' || index.state === 'cancelled') &&
      index.block_count <= fromSeq
    ) {
      return { outcome: await endWithoutEos(s) };
    }
  } catch (err) {
    // Relay still down or busy (network, 5xx, 429): try the stream anyway, its failure counts
    // as the next attempt; this loop is the retry (index-fetch-retry.ts is not stacked on it).
    if (isPlayerError(err) && err.fatal && !isTransientIndexError(err)) throw err;
  }
  s.auth.allowJump(fromSeq);
  if (!last)
    return {
      start: await s.planner.prepare(s.planner.live ? { live: true } : { time: s.position }),
    };
  return {
    start: { kind: 'offset', offset: s.source.transport === 'ws' ? -1 : offset, seq: fromSeq },
  };
}

async function endWithoutEos(s: PlayerSession): Promise<PlayerOutcome> {
  await s.pipeline.drain();
  return { state: 'ended-without-finishing' };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
