import { randomBytes } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { computeBlockCrc, detectByteOrder, encodeBlock, parseBlockHeader } from './block-header.ts';
import { isFormatError } from './format-error.ts';
import { frameBlock } from './testing/stream-fixtures.ts';

describe('block header', () => {
  it('encodeBlock writes reg, seq, len big-endian and zlib CRC over reg‖seq‖len‖ct', () => {
    const ct = Uint8Array.from(randomBytes(37));
    const block = encodeBlock(0x01020304, ct);
    const head = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 0, 0, 0, 37);
    const crc = zlibCrc32(Buffer.concat([head, ct]));
    expect(Array.from(block.subarray(0, 12))).toEqual(Array.from(head));
    expect(Buffer.from(block.subarray(12, 16)).readUInt32BE(0)).toBe(crc);
    expect(Array.from(block.subarray(16))).toEqual(Array.from(ct));
    expect(block).toEqual(frameBlock(0x01020304, ct, 'be'));
    expect(computeBlockCrc(block)).toBe(crc);
  });

  it('parses both byte orders', () => {
    const ct = Uint8Array.from(randomBytes(20));
    const be = frameBlock(7, ct, 'be');
    const le = frameBlock(7, ct, 'le');
    expect(parseBlockHeader(be, 0, 'be')).toMatchObject({
      registration: 0xffffffff,
      seq: 7,
      length: 20,
    });
    expect(parseBlockHeader(le, 0, 'le')).toMatchObject({ seq: 7, length: 20, crc: 0 });
    expect(detectByteOrder(be, 0)).toBe('be');
    expect(detectByteOrder(le, 0)).toBe('le');
    const shifted = new Uint8Array(3 + be.length);
    shifted.set(be, 3);
    expect(parseBlockHeader(shifted.subarray(1), 2, 'be').seq).toBe(7);
  });

  it('refuses bad arguments and short input', () => {
    const tag = new Uint8Array(16);
    for (const seq of [-1, 2 ** 32, 1.5]) {
      expect(() => encodeBlock(seq, tag)).toThrow(
        expect.objectContaining({ code: 'BAD_ARGUMENT' }),
      );
    }
    expect(() => encodeBlock(0, new Uint8Array(15))).toThrow(/at least the 16-byte/);
    try {
      parseBlockHeader(new Uint8Array(15), 0, 'be');
      expect.unreachable();
    } catch (err) {
      expect(isFormatError(err, 'TRUNCATED')).toBe(true);
    }
  });
});
