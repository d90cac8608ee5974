import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { findBlockBoundary } from './block-resync.ts';
import {
  concat,
  fixtureStream,
  randomPlaintexts,
  sealBlock,
  u32,
  type Order,
} from './testing/stream-fixtures.ts';

/** GCM keystream of block `seq` (ciphertext of zeros), so a test can choose the ciphertext bytes. */
function keystream(
  key: Uint8Array,
  iv: Uint8Array,
  seq: number,
  order: Order,
  n: number,
): Uint8Array {
  // GCM is a stream cipher: the ciphertext of zeros, before its tag, is the keystream.
  return sealBlock(key, iv, seq, new Uint8Array(n), order).slice(0, n);
}

/**
 * A stream whose ciphertexts contain fake headers: FF FF FF FF with a plausible seq and length
 * and (for the legacy form) a zero CRC, at chosen places, to try to fool the resync.
 */
function trapStream(order: Order) {
  const key = randomBytes(32);
  const iv = randomBytes(12);
  const sizes = [40, 200, 64, 5, 120];
  const plaintexts = sizes.map((n, seq) => {
    const fake = new Uint8Array(n);
    for (let at = 0; at + 16 <= n; at += 37) {
      fake.set(
        concat([u32(0xffffffff, order), u32(seq + 1, order), u32(16, order), u32(0, order)]),
        at,
      );
    }
    const ks = keystream(key, iv, seq, order, n);
    return fake.map((b, i) => b ^ (ks[i] as number));
  });
  return fixtureStream(plaintexts, order, key, iv);
}

describe('findBlockBoundary', { timeout: 60_000 }, () => {
  for (const order of ['be', 'le'] as Order[]) {
    it(`from every byte offset lands on the next real block (${order}, fake headers inside ciphertext)`, () => {
      const fx = trapStream(order);
      const fakes = fx.blocks.reduce(
        (n, b) =>
          n + (Buffer.from(b.subarray(16)).indexOf(Buffer.from([255, 255, 255, 255])) >= 0 ? 1 : 0),
        0,
      );
      expect(fakes).toBeGreaterThan(2);
      for (let from = 0; from < fx.bytes.length; from++) {
        const next = fx.offsets.find((o) => o >= from);
        const found = findBlockBoundary(fx.bytes, from);
        expect(found?.offset ?? null, `from ${from}`).toBe(next ?? null);
        if (found) {
          const seq = fx.offsets.indexOf(found.offset);
          expect(found.header.seq).toBe(seq);
          expect(found.header.length).toBe((fx.blocks[seq] as Uint8Array).length - 16);
          expect(found.byteOrder).toBe(order);
        }
        // Told the byte order, the answer is the same.
        expect(findBlockBoundary(fx.bytes, from, { byteOrder: order })?.offset ?? null).toBe(
          next ?? null,
        );
      }
    });
  }

  it('does not confirm a block that is not complete in the buffer', () => {
    const fx = fixtureStream(randomPlaintexts([30, 30, 30]));
    const last = fx.offsets[2] as number;
    const partial = fx.bytes.subarray(0, fx.bytes.length - 1);
    expect(findBlockBoundary(partial, last)).toBeNull();
    expect(findBlockBoundary(partial, last - 1)).toBeNull();
    expect(findBlockBoundary(partial, 5)?.offset).toBe(fx.offsets[1]);
  });

  it('a legacy block is confirmed at the end of data, or by the next header in place', () => {
    const fx = fixtureStream(randomPlaintexts([30, 30]), 'le');
    const second = fx.offsets[1] as number;
    expect(findBlockBoundary(fx.bytes, second)?.offset).toBe(second);
    // Only part of the next header present: not yet confirmable.
    expect(findBlockBoundary(fx.bytes.subarray(0, second + 8), 4)).toBeNull();
    expect(findBlockBoundary(fx.bytes.subarray(0, second + 16), 4)?.offset).toBe(4);
  });

  it('respects maxBlockLength and refuses a zero CRC in big-endian mode', () => {
    const fx = fixtureStream(randomPlaintexts([100, 10]));
    expect(findBlockBoundary(fx.bytes, 0, { maxBlockLength: 50 })?.offset).toBe(fx.offsets[1]);
    const le = fixtureStream(randomPlaintexts([10, 10]), 'le');
    expect(findBlockBoundary(le.bytes, 0, { byteOrder: 'be' })).toBeNull();
  });
});
