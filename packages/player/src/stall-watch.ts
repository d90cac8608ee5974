/**
 * A leg whose connection went silent mid-stream (a node that hangs, a proxy that stops
 * forwarding): the answer timeout bounds only a response's headers, never a download's body,
 * which lasts as long as the media, and a live broadcast may itself be quiet for a while (the
 * broadcaster paused: docs/protocol.md "Interrupted broadcasts"). So silence alone proves
 * nothing. After `ms` with no block received and none being handled, the watch asks the index
 * of the same node: a relay that holds blocks past the last one received (the broadcast went
 * on without this connection), or an index that does not answer either (the node hung), is a
 * stall, and the leg is aborted as a dropped connection (`NETWORK`, non-fatal) for the
 * reconnect to resume at the next block on the next node (docs/player.md "Reconnecting").
 * While a broadcast is quiet the index is asked after `ms` (10 s by default), then at intervals
 * of 1, 2, 4 and from then on 8 × `ms`: a broadcast interrupted for minutes with 10000 listeners
 * costs the relay about 125 index requests a second, not 1000, and a node that hangs during the
 * quiet is still left within 8 × `ms`.
 */
import { PlayerError, isPlayerError } from './player-error.ts';
import type { PlayerSession } from './player-session.ts';
import { fetchIndex } from './relay-index.ts';

export interface StallWatch {
  /** A block came from the source: handed to the pipeline now. */
  arrived(): void;
  /** The pipeline is done with it (handling may wait: pacing, a key epoch). */
  handled(): void;
  stop(): void;
}

/** How long after a quiet ask (the `quiet`-th in a row, from 0) the index is asked again. */
export function quietAskDelay(ms: number, quiet: number): number {
  return ms * 2 ** Math.min(quiet, 3);
}

export function watchStall(s: PlayerSession, leg: AbortController, ms: number): StallWatch {
  let last = performance.now();
  let handling = false;
  let asking = false;
  // While a live broadcast is quiet: one index request per backed-off interval, not per tick.
  let nextAsk = 0;
  let quietAsks = 0;
  const check = async () => {
    const now = performance.now();
    if (handling || asking || leg.signal.aborted || now - last < ms || now < nextAsk) return;
    asking = true;
    nextAsk = now + quietAskDelay(ms, quietAsks);
    const received = s.pipeline.last?.seq ?? -1;
    let why: string | undefined;
    try {
      s.countRequest();
      const index = await fetchIndex(s.location, s.fetch, leg.signal);
      s.sawLiveEdge(index.block_count);
      // Still nothing arrived, and the relay holds a block past the last one received.
      if (performance.now() - last >= ms && !handling && index.block_count - 1 > received)
        why = `the relay holds ${index.block_count} blocks`;
      else quietAsks++;
    } catch (err) {
      if (!leg.signal.aborted && isPlayerError(err) && !err.fatal) why = err.message;
    } finally {
      asking = false;
    }
    if (why === undefined || leg.signal.aborted) return;
    leg.abort(
      new PlayerError(
        'NETWORK',
        `stalled: no block after seq ${received} for ${Math.round(performance.now() - last)} ms (${why})`,
        { fatal: false },
      ),
    );
  };
  const timer = setInterval(() => void check(), Math.max(50, ms / 4));
  return {
    arrived() {
      last = performance.now();
      handling = true;
      quietAsks = 0;
      nextAsk = 0;
    },
    handled() {
      last = performance.now();
      handling = false;
    },
    stop() {
      clearInterval(timer);
    },
  };
}
