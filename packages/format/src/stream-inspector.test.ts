import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { inspectStream } from './stream-inspector.ts';
import {
  concat,
  fixtureStream,
  frameBlock,
  MAGIC_BYTES,
  randomPlaintexts,
} from './testing/stream-fixtures.ts';

describe('inspectStream', () => {
  it('lists every block of a clean stream, in both byte orders', () => {
    for (const order of ['be', 'le'] as const) {
      const fx = fixtureStream(randomPlaintexts([10, 0, 300]), order);
      const r = inspectStream(fx.bytes);
      expect(r).toMatchObject({
        ok: true,
        magic: 'ok',
        byteOrder: order,
        resyncs: [],
        size: fx.bytes.length,
      });
      expect(r.blocks.map((b) => [b.offset, b.seq, b.length, b.crcOk, b.seqOk])).toEqual(
        fx.offsets.map((o, i) => [o, i, (fx.blocks[i] as Uint8Array).length - 16, true, true]),
      );
    }
  });

  it('reports a bad CRC, resyncs to the next block, and notes garbage and seq gaps', () => {
    const fx = fixtureStream(randomPlaintexts([40, 40, 40, 40]));
    const bad = Uint8Array.from(fx.bytes);
    const flipAt = (fx.offsets[1] as number) + 20;
    bad[flipAt] = (bad[flipAt] as number) ^ 0x10;
    const garbage = Uint8Array.from(randomBytes(7)).fill(0x11);
    const spliced = concat([bad.subarray(0, fx.offsets[3]), garbage, fx.blocks[3] as Uint8Array]);
    const r = inspectStream(spliced);
    expect(r.ok).toBe(false);
    expect(r.blocks.map((b) => [b.seq, b.crcOk])).toEqual([
      [0, true],
      [1, false],
      [2, true],
      [3, true],
    ]);
    expect(r.resyncs).toEqual([
      {
        from: fx.offsets[1],
        to: fx.offsets[2],
        skipped: 72,
        reason: expect.stringMatching(/^CRC 0x/),
      },
      {
        from: fx.offsets[3],
        to: (fx.offsets[3] as number) + 7,
        skipped: 7,
        reason: 'no registration code',
      },
    ]);
    const gap = inspectStream(
      concat([MAGIC_BYTES, fx.blocks[0] as Uint8Array, fx.blocks[2] as Uint8Array]),
    );
    expect(gap.blocks.map((b) => b.seqOk)).toEqual([true, false]);
  });

  it('reports a missing or bad magic, and a truncated tail', () => {
    const fx = fixtureStream(randomPlaintexts([20, 20]));
    expect(inspectStream(new Uint8Array(2))).toMatchObject({ magic: 'missing', ok: false });
    const noMagic = inspectStream(fx.bytes.subarray(4));
    expect(noMagic.magic).toBe('bad');
    expect(noMagic.blocks.map((b) => b.seq)).toEqual([0, 1]);
    const v9 = Uint8Array.from(fx.bytes);
    v9[3] = 9;
    expect(inspectStream(v9)).toMatchObject({ magic: 'unsupported-version', version: 9 });
    const cut = inspectStream(fx.bytes.subarray(0, fx.bytes.length - 5));
    expect(cut.truncated).toEqual({ offset: fx.offsets[1], have: 47, need: 52 });
    expect(inspectStream(concat([MAGIC_BYTES, frameBlock(0, new Uint8Array(16), 'be')])).ok).toBe(
      true,
    );
  });
});
