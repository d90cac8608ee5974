/**
 * UploadFramer: every valid block before a bad one is returned, whatever the chunk split
 * (fed split at every byte position, and byte by byte).
 */
import { encodeBlock } from '@mxcast/format';
import { describe, expect, it } from 'vitest';
import { makeStream } from '../testing/relay-fixture.ts';
import { UploadFramer } from './upload-framer.ts';

const options = { maxBlockLength: 1024, startOffset: 0, expectedSeq: 0, byteOrder: undefined };

function feed(bytes: Uint8Array, cuts: number[], opts = options) {
  const framer = new UploadFramer(opts);
  const seqs: number[] = [];
  let error: string | undefined;
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    const step = framer.push(bytes.subarray(at, cut));
    at = cut;
    for (const b of step.blocks) {
      seqs.push(b.seq);
      expect(
        Buffer.from(b.bytes).equals(
          Buffer.from(
            bytes.subarray(
              b.offset - opts.startOffset,
              b.offset - opts.startOffset + b.bytes.length,
            ),
          ),
        ),
      ).toBe(true);
    }
    if (step.error) {
      error = step.error.code;
      break;
    }
  }
  return { seqs, error, framer };
}

describe('UploadFramer', () => {
  const s = makeStream(4, 20);
  const badCrc = Buffer.from(encodeBlock(4, new Uint8Array(20)));
  badCrc[20] = (badCrc[20] ?? 0) ^ 0xff;
  const withBad = Buffer.concat([s.bytes, badCrc, encodeBlock(5, new Uint8Array(20))]);

  it('keeps the blocks before a bad one at every split position', () => {
    for (let cut = 0; cut <= withBad.length; cut++) {
      const { seqs, error } = feed(withBad, [cut]);
      expect([cut, seqs, error]).toEqual([cut, [0, 1, 2, 3], 'BAD_CRC']);
    }
  });

  it('keeps them fed byte by byte, and two splits', () => {
    const every = Array.from({ length: withBad.length - 1 }, (_, i) => i + 1);
    expect(feed(withBad, every)).toMatchObject({ seqs: [0, 1, 2, 3], error: 'BAD_CRC' });
    for (let a = 0; a < withBad.length; a += 7) {
      for (let b = a; b < withBad.length; b += 11)
        expect(feed(withBad, [a, b]).seqs).toEqual([0, 1, 2, 3]);
    }
  });

  it('resumes at a block boundary with the expected seq and reports a truncated end', () => {
    const rest = makeStream(3, 20, 4);
    const { seqs, error, framer } = feed(rest.bytes.subarray(0, rest.bytes.length - 5), [10], {
      ...options,
      startOffset: s.bytes.length,
      expectedSeq: 4,
    });
    expect([seqs, error]).toEqual([[4, 5], undefined]);
    expect(framer.atBoundary).toBe(false);
    expect(() => framer.finish()).toThrow(/ended inside block 6/);
    const gap = feed(rest.bytes, [], { ...options, startOffset: s.bytes.length, expectedSeq: 3 });
    expect(gap).toMatchObject({ seqs: [], error: 'SEQ_GAP' });
  });
});
