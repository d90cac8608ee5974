/**
 * How a leg ends is a value (LegEnd), never a throw: the runner against a small in-memory
 * BlockSource that behaves as the real ones do on abort (they throw their signal's reason).
 */
import { describe, expect, it } from 'vitest';
import type { BlockOutcome } from './block-pipeline.ts';
import {
  MisalignedStart,
  type BlockSource,
  type SourceBlock,
  type SourceEnd,
} from './block-source.ts';
import { LegAborted, runLeg } from './leg-runner.ts';
import { PlayerError } from './player-error.ts';

function block(seq: number): SourceBlock {
  return { seq, offset: null, size: 16, ciphertext: new Uint8Array(0), byteOrder: 'be' };
}

/** Yields `count` blocks, then ends with `end` or throws `fail`; `hang` waits for an abort. */
function source(o: { count: number; end?: SourceEnd; fail?: unknown; hang?: boolean }) {
  const seen = { closed: false };
  const src: BlockSource = {
    transport: 'ws',
    async *blocks(_start, signal) {
      try {
        for (let seq = 0; seq < o.count; seq++) yield block(seq);
        if (o.hang) {
          await new Promise((_, reject) =>
            signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
          );
        }
        if (o.fail !== undefined) throw o.fail;
        return o.end ?? { kind: 'ended', state: 'complete' };
      } finally {
        seen.closed = true;
      }
    },
  };
  return { src, seen };
}

const start = { kind: 'live' } as const;
const next: BlockOutcome = { kind: 'next' };
/** A live leg whose progress callback is not watched. */
const runQuiet = (src: BlockSource, leg: AbortController, onBlock: Parameters<typeof runLeg>[3]) =>
  runLeg(src, start, leg, onBlock, () => {});

describe('runLeg', () => {
  it('reads every block and ends with the source', async () => {
    const { src, seen } = source({ count: 3, end: { kind: 'range-done' } });
    const seqs: number[] = [];
    let progress = 0;
    const end = await runLeg(
      src,
      start,
      new AbortController(),
      async (b) => (seqs.push(b.seq), next),
      () => progress++,
    );
    expect(end).toEqual({ kind: 'source-ended', end: { kind: 'range-done' } });
    expect(seqs).toEqual([0, 1, 2]);
    expect(progress).toBe(3);
    expect(seen.closed).toBe(true);
  });

  it("stops at a block's jump or over, closing the source", async () => {
    for (const outcome of [
      { kind: 'jump', from: { time: 42 } },
      { kind: 'over', outcome: { state: 'finished' } },
    ] as BlockOutcome[]) {
      const { src, seen } = source({ count: 5 });
      const seqs: number[] = [];
      const end = await runQuiet(
        src,
        new AbortController(),
        async (b) => (seqs.push(b.seq), b.seq === 1 ? outcome : next),
      );
      expect(end).toEqual(outcome);
      expect(seqs).toEqual([0, 1]);
      expect(seen.closed).toBe(true);
    }
  });

  it('a seek or stop (LegAborted) ends it aborted, even while the source waits', async () => {
    const { src, seen } = source({ count: 1, hang: true });
    const leg = new AbortController();
    const ended = runQuiet(src, leg, async () => next);
    await new Promise((r) => setTimeout(r, 10));
    leg.abort(new LegAborted('seek'));
    expect(await ended).toEqual({ kind: 'aborted' });
    expect(seen.closed).toBe(true);
    expect(new LegAborted('stop')).toBeInstanceOf(Error);
  });

  it('an abort wins over what the block in flight asked', async () => {
    const { src } = source({ count: 3 });
    const leg = new AbortController();
    const end = await runLeg(
      src,
      start,
      leg,
      async () => {
        leg.abort(new LegAborted('seek'));
        return { kind: 'over', outcome: { state: 'finished' } };
      },
      () => {},
    );
    expect(end).toEqual({ kind: 'aborted' });
  });

  it('an already aborted leg reads nothing', async () => {
    const { src } = source({ count: 3 });
    const leg = new AbortController();
    leg.abort(new LegAborted('seek'));
    let blocks = 0;
    const end = await runQuiet(src, leg, async () => (blocks++, next));
    expect(end).toEqual({ kind: 'aborted' });
    expect(blocks).toBe(0);
  });

  it('failures come back as values: misaligned, a PlayerError, a failing block handler', async () => {
    const misaligned = new MisalignedStart(100, 7, 'no magic');
    const a = await runQuiet(
      source({ count: 0, fail: misaligned }).src,
      new AbortController(),
      async () => next,
    );
    expect(a).toEqual({ kind: 'misaligned', error: misaligned });

    const dropped = new PlayerError('NETWORK', 'cut', { fatal: false });
    const b = await runQuiet(
      source({ count: 2, fail: dropped }).src,
      new AbortController(),
      async () => next,
    );
    expect(b).toEqual({ kind: 'failed', error: dropped });

    const tampered = new PlayerError('TAMPERED', 'bad tag', { fatal: true, seq: 1 });
    const { src, seen } = source({ count: 3 });
    const c = await runLeg(
      src,
      start,
      new AbortController(),
      async (blk) => {
        if (blk.seq === 1) throw tampered;
        return next;
      },
      () => {},
    );
    expect(c).toEqual({ kind: 'failed', error: tampered });
    expect(seen.closed).toBe(true);
  });
});
