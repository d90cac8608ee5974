/**
 * One leg: a single request (an HTTP Range or a WebSocket) read from a known block until it
 * ends, fails, or is aborted by a seek or stop. How it ended is a value (`LegEnd`), never a
 * thrown signal: the Player's loop (player.ts) decides what comes next from it.
 */
import type { BlockOutcome } from './block-pipeline.ts';
import {
  MisalignedStart,
  type BlockSource,
  type SourceBlock,
  type SourceEnd,
  type SourceStart,
} from './block-source.ts';
import type { PlayFrom, PlayerOutcome } from './player-options.ts';

/** How a leg ended. */
export type LegEnd =
  /** The source stopped without an error (the relay ended the stream, or a bounded range was read). */
  | { kind: 'source-ended'; end: SourceEnd }
  /** A block asked to read from elsewhere (a header leg whose target is further on). */
  | { kind: 'jump'; from: PlayFrom }
  /** Playback is over (EOS played, `duration` reached). */
  | { kind: 'over'; outcome: PlayerOutcome }
  /** The Player aborted the leg (`LegAborted`: a seek or stop); it knows what comes next. */
  | { kind: 'aborted' }
  /** A computed start offset was not the block it should be: block sizes vary. */
  | { kind: 'misaligned'; error: MisalignedStart }
  /** The source, the authenticator or a later stage failed (a PlayerError, or a bug). */
  | { kind: 'failed'; error: unknown };

/**
 * The abort reason the Player gives a leg's AbortController. An Error, so a source that
 * rethrows its signal's reason (fetch does) still throws an Error.
 */
export class LegAborted extends Error {
  override readonly name = 'LegAborted';
  constructor(readonly why: 'seek' | 'stop') {
    super(`leg aborted: ${why}`);
  }
}

/**
 * Reads `source` from `start` under `leg`, handing each block to `onBlock`. Never throws. A
 * leg aborted with LegAborted ends `aborted`, whatever the source threw on the way out.
 */
export async function runLeg(
  source: BlockSource,
  start: SourceStart,
  leg: AbortController,
  onBlock: (block: SourceBlock) => Promise<BlockOutcome>,
  onProgress: () => void,
): Promise<LegEnd> {
  const aborted = () => leg.signal.aborted && leg.signal.reason instanceof LegAborted;
  const blocks = source.blocks(start, leg.signal);
  try {
    for (;;) {
      if (aborted()) return { kind: 'aborted' };
      const next = await blocks.next();
      if (next.done) return { kind: 'source-ended', end: next.value };
      const outcome = await onBlock(next.value);
      // A seek or stop that came while the block was handled wins over what the block asked.
      if (outcome.kind !== 'next') return aborted() ? { kind: 'aborted' } : outcome;
      onProgress();
    }
  } catch (error) {
    if (aborted()) return { kind: 'aborted' };
    if (error instanceof MisalignedStart) return { kind: 'misaligned', error };
    return { kind: 'failed', error };
  } finally {
    leg.abort(new Error('leg closed'));
    await blocks.return?.(undefined as never).catch(() => {});
  }
}
