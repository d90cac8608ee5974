/**
 * One leg: a single request (an HTTP Range or a WebSocket) read from a known block until it
 * ends, fails, or is aborted by a seek or stop. Jump and Stop are the control-flow signals a
 * leg ends with when that is not a failure.
 */
import type { BlockSource, SourceBlock, SourceEnd, SourceStart } from './block-source.ts';
import type { PlayFrom, PlayerOutcome } from './player-options.ts';

/** Thrown inside a leg to move the read position (a seek) without it counting as a failure. */
export class Jump {
  constructor(readonly from: PlayFrom) {}
}

/** Thrown inside a leg when playback is over (EOS page, `duration` reached). */
export class Stop {
  constructor(readonly outcome: PlayerOutcome) {}
}

/**
 * Reads `source` from `start` under `leg`, handing each block to `onBlock`. A leg aborted with
 * a Jump rethrows that Jump (a seek arrived), whatever the source threw on the way out.
 */
export async function runLeg(
  source: BlockSource,
  start: SourceStart,
  leg: AbortController,
  onBlock: (block: SourceBlock) => Promise<void>,
  onProgress: () => void,
): Promise<SourceEnd> {
  const blocks = source.blocks(start, leg.signal);
  try {
    for (;;) {
      if (leg.signal.aborted) throw leg.signal.reason;
      const next = await blocks.next();
      if (next.done) return next.value;
      await onBlock(next.value);
      onProgress();
    }
  } catch (err) {
    if (leg.signal.aborted && leg.signal.reason instanceof Jump) throw leg.signal.reason;
    throw err;
  } finally {
    leg.abort(new Error('leg closed'));
    await blocks.return?.(undefined as never).catch(() => {});
  }
}
