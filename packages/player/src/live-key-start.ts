/**
 * Where a live join starts when the key source withholds part of the broadcast (docs/matrix.md
 * "Key epochs"): a `joined` newcomer holds the header epoch, then a withheld stretch, then its
 * own first epoch — which the broadcaster announced ahead, so it may begin at a block not
 * uploaded yet. Starting at the live edge would then land in the withheld stretch and stop with
 * NO_ACCESS; a live join starts instead at the first block this listener can open, waiting for
 * the relay to have it. A listener without withheld epochs is not affected (no extra request).
 * A play from a time (`--from 0`) does not come here: the past stays NO_ACCESS, as it should.
 */
import { DEFAULT_KEY_WAIT_MS } from './block-authenticator.ts';
import type { SourceStart } from './block-source.ts';
import { keysChanged, type EpochKeys } from './epoch-keys.ts';
import type { PlayerSession } from './player-session.ts';
import type { RelayIndex } from './relay-index.ts';
import { FIRST_AUDIO_SEQ, OPUS_RATE } from './stream-geometry.ts';

/**
 * The first seq at or after `seq` whose epoch `keys` does not withhold: `seq` itself when its
 * epoch is held (or nothing is withheld), the start of the first held epoch after it, or
 * undefined when every epoch known from `seq` on is withheld (the listener's own is not known
 * yet).
 */
export function firstHeldSeq(keys: EpochKeys, seq: number): number | undefined {
  const withheld = keys.withheld?.bind(keys);
  if (!withheld) return seq;
  const epochs = keys.epochs;
  let i = epochs.length - 1;
  while (i > 0 && (epochs[i]?.startSeq ?? 0) > seq) i--;
  for (; i < epochs.length; i++) {
    const e = epochs[i];
    if (e && withheld(e.startSeq) === undefined) return Math.max(seq, e.startSeq);
  }
  return undefined;
}

/** Whether any epoch known is withheld: only then can a live start land where it cannot read. */
export function withholdsAny(keys: EpochKeys | undefined): boolean {
  const withheld = keys?.withheld?.bind(keys);
  return !!withheld && keys!.epochs.some((e) => withheld(e.startSeq) !== undefined);
}

/**
 * The block a live join at `edge` should start at: `edge`, or the first block of the first epoch
 * this listener holds after it. When none is known yet, waits (up to the key wait) for the key
 * source to bring one; with none by then, or access lost, `edge` (whose block then says
 * NO_ACCESS, the truth).
 */
export async function liveStartSeq(s: PlayerSession, edge: number): Promise<number> {
  const keys = s.options.keys;
  if (!keys) return edge;
  const deadline = s.now() + (s.options.keyWaitMs ?? DEFAULT_KEY_WAIT_MS);
  for (;;) {
    const held = firstHeldSeq(keys, edge);
    if (held !== undefined) {
      if (held > edge) s.emit('liveStartMoved', { edge, seq: held });
      return held;
    }
    const left = deadline - s.now();
    if (left <= 0 || keys.lostAccess !== undefined || s.stopped) return edge;
    // In slices, so a stop() during the wait is seen within 250 ms.
    await keysChanged(keys, Math.min(left, 250));
  }
}

/**
 * Over HTTP: the relay's index once block `seq` exists (polled about twice a block; the wait is
 * at most the announce-ahead lead, 1.5 s by default), or the last index read when the player
 * stops or the broadcast ends first.
 */
export async function waitForBlock(
  s: PlayerSession,
  seq: number,
  samplesPerBlock: number,
): Promise<RelayIndex> {
  const pollMs = Math.min(1000, Math.max(50, (samplesPerBlock / OPUS_RATE) * 500));
  for (;;) {
    const index = await s.fetchIndex();
    s.sawLiveEdge(index.block_count);
    const over = index.state === 'complete' || index.state === 'cancelled';
    if (index.block_count > seq || over || s.stopped) return index;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/**
 * A live join over WebSocket: `from=live`, unless the key source withholds part of the
 * broadcast — then one index request says where the edge is (`from=live` starts at the next
 * block to arrive, `block_count`), and a later first held block is asked for by seq: the relay
 * sends the header blocks, then waits for that block (docs/protocol.md "Listen over WebSocket").
 */
export async function wsLiveStart(s: PlayerSession): Promise<SourceStart> {
  if (!withholdsAny(s.options.keys)) return { kind: 'live' };
  const index = await s.fetchIndex();
  s.sawLiveEdge(index.block_count);
  const edge = Math.max(FIRST_AUDIO_SEQ, index.block_count);
  const seq = await liveStartSeq(s, edge);
  return seq > edge ? { kind: 'live', fromSeq: seq } : { kind: 'live' };
}
