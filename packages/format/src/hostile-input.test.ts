/**
 * Hostile input against the reader: whatever arrives, it never crashes (only FormatError), never
 * emits a byte of a block that did not authenticate, and names the right error code.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBlockCipher, type BlockCipher, type CipherBackend } from './block-cipher.ts';
import type { FormatErrorCode } from './format-error.ts';
import { runDecrypt } from './testing/decrypt-harness.ts';
import {
  concat,
  encryptedFileFor,
  fixtureStream,
  frameBlock,
  MAGIC_BYTES,
  randomPlaintexts,
  type FixtureStream,
  type Order,
} from './testing/stream-fixtures.ts';

type Field = 'magic' | 'version' | 'reg' | 'seq' | 'len' | 'crc' | 'ct';

/** Which block and header field byte `pos` of the stream belongs to. */
function locate(fx: FixtureStream, pos: number): { block: number; field: Field } {
  if (pos < 3) return { block: 0, field: 'magic' };
  if (pos === 3) return { block: 0, field: 'version' };
  let block = fx.offsets.length - 1;
  while ((fx.offsets[block] as number) > pos) block--;
  const rel = pos - (fx.offsets[block] as number);
  const field: Field =
    rel < 4 ? 'reg' : rel < 8 ? 'seq' : rel < 12 ? 'len' : rel < 16 ? 'crc' : 'ct';
  return { block, field };
}

const EXPECTED: Record<Order, Record<Field, FormatErrorCode[]>> = {
  be: {
    magic: ['BAD_MAGIC'],
    version: ['UNSUPPORTED_VERSION'],
    reg: ['BAD_REGISTRATION'],
    seq: ['BAD_CRC'],
    len: ['LENGTH_UNDER_MIN', 'LENGTH_OVER_LIMIT', 'BAD_CRC', 'TRUNCATED'],
    crc: ['BAD_CRC'],
    ct: ['BAD_CRC'],
  },
  le: {
    magic: ['BAD_MAGIC'],
    version: ['UNSUPPORTED_VERSION'],
    reg: ['BAD_REGISTRATION'],
    // No CRC in the legacy form: the framer or the tag must catch everything.
    seq: ['SEQ_GAP'],
    len: ['LENGTH_UNDER_MIN', 'LENGTH_OVER_LIMIT', 'TRUNCATED', 'AUTH_FAILED'],
    // A non-zero CRC on block 0 makes it look big-endian, and its LE length then is far too big.
    crc: ['BAD_CRC', 'LENGTH_OVER_LIMIT'],
    ct: ['AUTH_FAILED'],
  },
};

async function setup(
  order: Order,
  backend: CipherBackend,
): Promise<{ fx: FixtureStream; cipher: BlockCipher }> {
  const fx = fixtureStream(randomPlaintexts([3, 0, 9]), order);
  return { fx, cipher: await createBlockCipher(encryptedFileFor(fx.key, fx.iv), { backend }) };
}

for (const backend of ['node', 'webcrypto'] as CipherBackend[]) {
  for (const order of ['be', 'le'] as Order[]) {
    describe(`hostile input, ${order} stream, ${backend}`, { timeout: 60_000 }, () => {
      it('a bit flipped at every position is caught with the right code, nothing unauthenticated emitted', async () => {
        const { fx, cipher } = await setup(order, backend);
        // WebCrypto is slower per call: one bit per byte there, all eight with node:crypto.
        const bits = backend === 'node' ? [0, 1, 2, 3, 4, 5, 6, 7] : [randomInt(0, 8)];
        for (let pos = 0; pos < fx.bytes.length; pos++) {
          for (const bit of bits) {
            const bad = Uint8Array.from(fx.bytes);
            bad[pos] = (bad[pos] as number) ^ (1 << bit);
            const where = locate(fx, pos);
            const run = await runDecrypt(cipher, [bad]);
            const context = `byte ${pos} bit ${bit} (${where.field} of block ${where.block})`;
            expect(run.error, context).not.toBeNull();
            expect(EXPECTED[order][where.field], context).toContain(run.error?.code);
            const intact = where.field === 'magic' || where.field === 'version' ? 0 : where.block;
            expect(run.blocks.length, context).toBe(intact);
            run.blocks.forEach((b, i) => expect(b.plaintext).toEqual(fx.plaintexts[i]));
          }
        }
      });

      it('truncation at every offset: TRUNCATED unless on a block boundary, whole blocks only', async () => {
        const { fx, cipher } = await setup(order, backend);
        const boundaries = [4, ...fx.offsets.slice(1), fx.bytes.length];
        for (let cut = 0; cut <= fx.bytes.length; cut++) {
          const run = await runDecrypt(cipher, [fx.bytes.subarray(0, cut)]);
          const whole = fx.offsets.filter(
            (o, i) => o + (fx.blocks[i] as Uint8Array).length <= cut,
          ).length;
          expect(run.error?.code ?? 'none', `cut ${cut}`).toBe(
            boundaries.includes(cut) ? 'none' : 'TRUNCATED',
          );
          expect(run.blocks.map((b) => b.plaintext)).toEqual(fx.plaintexts.slice(0, whole));
        }
      });

      it('blocks dropped, duplicated, reordered or spliced from another stream are refused', async () => {
        const { fx, cipher } = await setup(order, backend);
        const [b0, b1, b2] = fx.blocks as [Uint8Array, Uint8Array, Uint8Array];
        const otherKey = fixtureStream(fx.plaintexts, order, randomBytes(32), fx.iv);
        const otherIv = fixtureStream(fx.plaintexts, order, fx.key, randomBytes(12));
        // Block 2's ciphertext relabelled as seq 1 with a correct header and CRC.
        const relabelled = frameBlock(1, b2.subarray(16), order);
        const cases: [string, Uint8Array[], FormatErrorCode, number, number][] = [
          ['drop first', [b1, b2], 'SEQ_GAP', 0, 1],
          ['drop middle', [b0, b2], 'SEQ_GAP', 1, 2],
          ['duplicate', [b0, b0, b1, b2], 'SEQ_GAP', 1, 0],
          ['duplicate later', [b0, b1, b1, b2], 'SEQ_GAP', 2, 1],
          ['reorder', [b0, b2, b1], 'SEQ_GAP', 1, 2],
          ['splice other key', [b0, otherKey.blocks[1] as Uint8Array, b2], 'AUTH_FAILED', 1, 1],
          ['splice other iv', [b0, b1, otherIv.blocks[2] as Uint8Array], 'AUTH_FAILED', 2, 2],
          ['relabelled seq', [b0, relabelled, b2], 'AUTH_FAILED', 1, 1],
        ];
        for (const [name, blocks, code, emitted, seq] of cases) {
          const run = await runDecrypt(cipher, [concat([MAGIC_BYTES, ...blocks])]);
          expect(run.error?.code, name).toBe(code);
          expect(run.error?.seq, name).toBe(seq);
          expect(
            run.blocks.map((b) => b.plaintext),
            name,
          ).toEqual(fx.plaintexts.slice(0, emitted));
        }
      });
    });
  }

  it(`random bytes never crash and never yield a block (${backend})`, async () => {
    const cipher = await createBlockCipher(encryptedFileFor(randomBytes(32), randomBytes(12)), {
      backend,
    });
    for (let i = 0; i < 200; i++) {
      const junk = randomBytes(randomInt(0, 300));
      // Half of them get a real magic and a registration code, to go deeper.
      const input =
        i % 2 ? junk : concat([MAGIC_BYTES, Uint8Array.of(0xff, 0xff, 0xff, 0xff), junk]);
      const run = await runDecrypt(cipher, [input], { maxBlockLength: 1 + randomInt(16, 400) });
      expect(run.error).not.toBeNull();
      expect(run.blocks).toEqual([]);
    }
  }, 60_000);
}
