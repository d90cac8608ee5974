/**
 * Where the HLS engine's live start goes when the room's key source withholds part of the
 * broadcast (docs/matrix.md "Key epochs", docs/player.md "Joining live"): a `joined` newcomer
 * holds the header epoch and its own first epoch, announced ahead, so the live edge hls.js would
 * pick lies in the withheld stretch (NO_ACCESS). The start moves to the first block the ring
 * says this listener holds (the player's `firstHeldSeq`, the same answer the direct engine gets),
 * and waits for the relay to hold that block before hls.js starts: hls.js then finds the segment
 * or part holding it at the end of the playlist, and the remuxer plays from that block on
 * (HlsSegmentRemuxer.startAt). A listener without withheld epochs is not moved.
 */
import {
  DEFAULT_KEY_WAIT_MS,
  firstHeldSeq,
  keysChanged,
  withholdsAny,
  type EpochKeys,
} from '@mxcast/player';
import { seqAtSeconds, seqStartSeconds, type SegmentGeometry } from './hls-segment-plan.ts';

export interface HlsLiveStartOptions {
  keys: EpochKeys;
  geometry: SegmentGeometry;
  /** Seconds of audio the relay holds (the page's index polling), null before it is known. */
  liveEdge: () => number | null;
  /** The engine stopped: give up at once. */
  signal: AbortSignal;
  /** Longest wait for this listener's first epoch to be known (default DEFAULT_KEY_WAIT_MS). */
  keyWaitMs?: number;
  /** Longest wait for the relay to hold the first held block (the announce-ahead lead and more). */
  blockWaitMs?: number;
  /** How often liveEdge is read while waiting for that block. */
  pollMs?: number;
}

export interface HlsLiveStart {
  /** The first block this listener can open at or after the live edge. */
  seq: number;
  /** Its time in the broadcast: hls.js's startPosition. */
  seconds: number;
}

/**
 * The moved live start, or null when hls.js's own live start is right (nothing withheld at the
 * edge, or no held epoch known after the key wait: the edge's block then says NO_ACCESS).
 */
export async function hlsLiveStart(o: HlsLiveStartOptions): Promise<HlsLiveStart | null> {
  const { keys, geometry: g, signal } = o;
  // Only a ring that withholds an epoch can put the edge out of reach (the ring builder marks
  // it before the listen starts): any other listener starts at once, as hls.js would.
  if (!withholdsAny(keys)) return null;
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const pollMs = o.pollMs ?? 250;
  // The edge is needed first: it says where "live" is.
  const edgeBy = performance.now() + (o.blockWaitMs ?? 10_000);
  while (o.liveEdge() === null && !signal.aborted && performance.now() < edgeBy) await wait(pollMs);
  const edgeSeconds = o.liveEdge();
  if (edgeSeconds === null) return null;
  // The newest block the relay holds (block_count − 1), as the direct engine's HTTP start.
  const edge = Math.max(seqAtSeconds(g, 0), seqAtSeconds(g, edgeSeconds) - 1);
  const keysBy = performance.now() + (o.keyWaitMs ?? DEFAULT_KEY_WAIT_MS);
  let held = firstHeldSeq(keys, edge);
  while (held === undefined && keys.lostAccess === undefined && !signal.aborted) {
    const left = keysBy - performance.now();
    if (left <= 0) return null;
    await keysChanged(keys, left, signal);
    held = firstHeldSeq(keys, edge);
  }
  if (held === undefined || held <= edge) return null;
  // The relay holds blocks below `block_count`: wait until it has `held`.
  const blockBy = performance.now() + (o.blockWaitMs ?? 10_000);
  while (!signal.aborted && performance.now() < blockBy) {
    const now = o.liveEdge();
    if (now !== null && seqAtSeconds(g, now) > held) break;
    await wait(pollMs);
  }
  return { seq: held, seconds: seqStartSeconds(g, held) };
}
