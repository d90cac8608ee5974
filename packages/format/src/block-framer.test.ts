import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BlockFramer, type BlockFramerOptions, type FramedBlock } from './block-framer.ts';
import { FormatError, type FormatErrorCode } from './format-error.ts';
import { concat, frameBlock, MAGIC_BYTES, splits, type Order } from './testing/stream-fixtures.ts';

function stream(
  sizes: number[],
  order: Order,
  startSeq = 0,
): { bytes: Uint8Array; cts: Uint8Array[] } {
  const cts = sizes.map((n) => Uint8Array.from(randomBytes(n)));
  const blocks = cts.map((ct, i) => frameBlock(startSeq + i, ct, order));
  return { bytes: concat([MAGIC_BYTES, ...blocks]), cts };
}

function frameAll(parts: Uint8Array[], options?: BlockFramerOptions): FramedBlock[] {
  const framer = new BlockFramer(options);
  const out = parts.flatMap((p) => framer.push(p));
  framer.finish();
  return out;
}

function codeOf(fn: () => unknown): FormatErrorCode | 'none' {
  try {
    fn();
    return 'none';
  } catch (err) {
    if (err instanceof FormatError) return err.code;
    throw err;
  }
}

describe('BlockFramer', { timeout: 60_000 }, () => {
  for (const order of ['be', 'le'] as const) {
    it(`frames a ${order} stream split at every byte the same way`, () => {
      const { bytes, cts } = stream([16, 17, 40, 16], order);
      for (const parts of splits(bytes)) {
        const blocks = frameAll(parts);
        expect(blocks.map((b) => b.seq)).toEqual([0, 1, 2, 3]);
        expect(blocks.map((b) => b.byteOrder)).toEqual([order, order, order, order]);
        blocks.forEach((b, i) => expect(b.ciphertext).toEqual(cts[i]));
        expect(blocks[1]?.offset).toBe(4 + 16 + 16);
      }
    });
  }

  it('returns views into the pushed chunk, not copies, when a block sits in one chunk', () => {
    const { bytes } = stream([30, 30], 'be');
    const [a, b] = new BlockFramer().push(bytes);
    expect(a?.bytes.buffer).toBe(bytes.buffer);
    expect(b?.ciphertext.buffer).toBe(bytes.buffer);
    expect(b?.bytes.byteOffset).toBe(4 + 46);
  });

  it('tracks offset, nextSeq, byteOrder and atBoundary', () => {
    const { bytes } = stream([20, 20], 'le');
    const f = new BlockFramer({ startOffset: 1000 });
    expect(f.byteOrder).toBeUndefined();
    expect(f.nextSeq).toBe(0);
    f.push(bytes.subarray(0, 10));
    expect(f.atBoundary).toBe(false);
    expect(f.offset).toBe(1004);
    expect(f.byteOrder).toBeUndefined();
    f.push(bytes.subarray(10, 4 + 36));
    expect(f.byteOrder).toBe('le');
    expect(f.nextSeq).toBe(1);
    expect(f.offset).toBe(1040);
    expect(f.atBoundary).toBe(true);
  });

  it('starts mid-stream without magic and takes the first seq it sees', () => {
    const { bytes } = stream([20, 20, 20], 'be', 41);
    const blocks = frameAll([bytes.subarray(4)], { expectMagic: false, startOffset: 4 });
    expect(blocks.map((b) => [b.seq, b.offset])).toEqual([
      [41, 4],
      [42, 40],
      [43, 76],
    ]);
    expect(
      codeOf(() => frameAll([bytes.subarray(4)], { expectMagic: false, expectedSeq: 40 })),
    ).toBe('SEQ_GAP');
  });

  it('accepts a magic-only stream and rejects an empty or cut one with TRUNCATED', () => {
    expect(frameAll([MAGIC_BYTES])).toEqual([]);
    expect(codeOf(() => frameAll([]))).toBe('TRUNCATED');
    const { bytes } = stream([20, 20], 'be');
    for (let cut = 0; cut < bytes.length; cut++) {
      const boundary = cut === 4 || cut === 40;
      expect(codeOf(() => frameAll([bytes.subarray(0, cut)]))).toBe(
        boundary ? 'none' : 'TRUNCATED',
      );
    }
  });

  it('names the truncated block and offset', () => {
    const { bytes } = stream([20, 20], 'be');
    const f = new BlockFramer();
    f.push(bytes.subarray(0, 60));
    expect(() => f.finish()).toThrow(/inside block 1 at offset 40: have 20 of 36 bytes/);
  });

  it('checks the magic and version', () => {
    const { bytes } = stream([20], 'be');
    const bad = Uint8Array.from(bytes);
    bad[0] = 0x4e;
    expect(codeOf(() => frameAll([bad]))).toBe('BAD_MAGIC');
    const v2 = Uint8Array.from(bytes);
    v2[3] = 2;
    expect(codeOf(() => frameAll([v2]))).toBe('UNSUPPORTED_VERSION');
    expect(() => frameAll([v2])).toThrow(/version 2/);
  });

  it('refuses bad registration codes and length bounds before buffering the block', () => {
    const { bytes } = stream([20], 'be');
    const reg = Uint8Array.from(bytes);
    reg[5] = 0xfe;
    expect(codeOf(() => new BlockFramer().push(reg.subarray(0, 20)))).toBe('BAD_REGISTRATION');

    const big = concat([MAGIC_BYTES, frameBlock(0, new Uint8Array(2000), 'be')]);
    const f = new BlockFramer({ maxBlockLength: 1999 });
    // Only the header has arrived: the limit applies now, not after 2000 bytes are buffered.
    expect(codeOf(() => f.push(big.subarray(0, 20)))).toBe('LENGTH_OVER_LIMIT');
    expect(() => f.push(new Uint8Array(1))).toThrow(/length 2000, over the limit of 1999/);
    expect(frameAll([big], { maxBlockLength: 2000 })).toHaveLength(1);

    const small = concat([MAGIC_BYTES, frameBlock(0, new Uint8Array(15), 'be')]);
    expect(codeOf(() => new BlockFramer().push(small.subarray(0, 20)))).toBe('LENGTH_UNDER_MIN');
  });

  it('checks the CRC in BE mode, allows a zero CRC only in LE mode', () => {
    const ct = Uint8Array.from(randomBytes(20));
    const wrong = concat([MAGIC_BYTES, frameBlock(0, ct, 'be', 12345)]);
    expect(codeOf(() => frameAll([wrong]))).toBe('BAD_CRC');
    const zeroBe = concat([MAGIC_BYTES, frameBlock(0, ct, 'be', 0)]);
    expect(codeOf(() => frameAll([zeroBe], { byteOrder: 'be' }))).toBe('BAD_CRC');
    const wrongLe = concat([MAGIC_BYTES, frameBlock(0, ct, 'le', 12345)]);
    expect(codeOf(() => frameAll([wrongLe], { byteOrder: 'le' }))).toBe('BAD_CRC');
    // Once a stream is known to be BE, a later zero-CRC block is refused.
    const mixed = concat([MAGIC_BYTES, frameBlock(0, ct, 'be'), frameBlock(1, ct, 'be', 0)]);
    expect(codeOf(() => frameAll([mixed]))).toBe('BAD_CRC');
  });

  it('refuses gaps, duplicates and reordering with SEQ_GAP', () => {
    const ct = Uint8Array.from(randomBytes(20));
    const b = (seq: number) => frameBlock(seq, ct, 'be');
    for (const seqs of [[1], [0, 2], [0, 0], [0, 1, 1], [1, 0]]) {
      expect(codeOf(() => frameAll([concat([MAGIC_BYTES, ...seqs.map(b)])]))).toBe('SEQ_GAP');
    }
  });

  it('accepts the last seq before wrap and nothing after it', () => {
    const ct = new Uint8Array(16);
    const last = frameBlock(0xffffffff, ct, 'be');
    expect(frameAll([last], { expectMagic: false })[0]?.seq).toBe(0xffffffff);
    const wrapped = concat([last, frameBlock(0, ct, 'be')]);
    expect(() => frameAll([wrapped], { expectMagic: false })).toThrow(/none after seq 4294967295/);
  });

  it('keeps throwing the first error', () => {
    const f = new BlockFramer();
    expect(codeOf(() => f.push(Uint8Array.of(1, 2, 3, 4)))).toBe('BAD_MAGIC');
    expect(codeOf(() => f.push(MAGIC_BYTES))).toBe('BAD_MAGIC');
    expect(codeOf(() => f.finish())).toBe('BAD_MAGIC');
  });

  it('hands out the good blocks before a fault in the same chunk, then throws on the next call', () => {
    const ct = Uint8Array.from(randomBytes(20));
    const bytes = concat([MAGIC_BYTES, frameBlock(0, ct, 'be'), frameBlock(5, ct, 'be')]);
    const f = new BlockFramer();
    expect(f.push(bytes).map((b) => b.seq)).toEqual([0]);
    expect(f.error?.code).toBe('SEQ_GAP');
    expect(f.offset).toBe(40);
    expect(codeOf(() => f.push(new Uint8Array(0)))).toBe('SEQ_GAP');
    const g = new BlockFramer();
    g.push(bytes);
    expect(codeOf(() => g.finish())).toBe('SEQ_GAP');
  });

  it('rejects a bad maxBlockLength option', () => {
    expect(codeOf(() => new BlockFramer({ maxBlockLength: 3 }))).toBe('BAD_ARGUMENT');
  });

  it('never crashes on random bytes, with or without magic', () => {
    for (let i = 0; i < 300; i++) {
      const junk = Uint8Array.from(randomBytes(1 + (i % 97)));
      const withMagic = i % 2 === 0 ? concat([MAGIC_BYTES, junk]) : junk;
      const code = codeOf(() => frameAll([withMagic], { expectMagic: i % 2 === 0 }));
      expect(code === 'none' || typeof code === 'string').toBe(true);
    }
  });
});
