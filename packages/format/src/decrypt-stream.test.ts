import { randomBytes, randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBlockCipher, type CipherBackend } from './block-cipher.ts';
import { decryptAll } from './decrypt-stream.ts';
import { createEncryptStream, encryptAll } from './encrypt-stream.ts';
import { generateEncryptedFile } from './encrypted-file.ts';
import { readAll, runDecrypt } from './testing/decrypt-harness.ts';
import {
  concat,
  encryptedFileFor,
  fixtureStream,
  randomPlaintexts,
  splits,
} from './testing/stream-fixtures.ts';

for (const backend of ['node', 'webcrypto'] as CipherBackend[]) {
  describe(`encrypt/decrypt round trips (${backend})`, { timeout: 60_000 }, () => {
    it('round-trips random sizes including empty and 1-byte plaintexts, streams and functions', async () => {
      const cipher = await createBlockCipher(generateEncryptedFile(), { backend });
      for (let round = 0; round < 20; round++) {
        const sizes = Array.from(
          { length: randomInt(0, 8) },
          () => [0, 1, randomInt(2, 3000)][randomInt(0, 3)] as number,
        );
        const plaintexts = randomPlaintexts(sizes);
        const encrypted = concat(
          await readAll(
            new ReadableStream<Uint8Array>({
              start(c) {
                plaintexts.forEach((p) => c.enqueue(p));
                c.close();
              },
            }).pipeThrough(createEncryptStream(cipher)),
          ),
        );
        expect(encrypted).toEqual(await encryptAll(cipher, plaintexts));
        const blocks = await decryptAll(cipher, encrypted);
        expect(blocks.map((b) => b.plaintext)).toEqual(plaintexts.map((p) => new Uint8Array(p)));
        expect(blocks.map((b) => b.seq)).toEqual(plaintexts.map((_, i) => i));
        // Random split points too, through the TransformStream.
        const cuts = Array.from({ length: 5 }, () => randomInt(0, encrypted.length + 1)).sort(
          (a, b) => a - b,
        );
        const parts = [0, ...cuts].map((c, i) =>
          encrypted.subarray(c, [...cuts, encrypted.length][i]),
        );
        const run = await runDecrypt(cipher, parts);
        expect(run.error).toBeNull();
        expect(run.blocks.map((b) => b.plaintext)).toEqual(
          plaintexts.map((p) => new Uint8Array(p)),
        );
      }
    });

    it('decrypts an independently made stream split at every byte', async () => {
      const fx = fixtureStream(randomPlaintexts([0, 1, 17]));
      const cipher = await createBlockCipher(encryptedFileFor(fx.key, fx.iv), { backend });
      for (const parts of splits(fx.bytes)) {
        const run = await runDecrypt(cipher, parts);
        expect(run.error).toBeNull();
        expect(run.blocks.map((b) => b.plaintext)).toEqual(fx.plaintexts);
        expect(run.blocks.map((b) => b.offset)).toEqual(fx.offsets);
      }
    });

    it('reads the legacy little-endian, zero-CRC form without being told (split at every byte)', async () => {
      const fx = fixtureStream(randomPlaintexts([5, 0, 30]), 'le');
      expect(Array.from(fx.bytes.subarray(4, 20))).toEqual([
        0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 21, 0, 0, 0, 0, 0, 0, 0,
      ]);
      const cipher = await createBlockCipher(encryptedFileFor(fx.key, fx.iv), { backend });
      for (const parts of splits(fx.bytes)) {
        const run = await runDecrypt(cipher, parts);
        expect(run.error).toBeNull();
        expect(run.blocks.map((b) => b.plaintext)).toEqual(fx.plaintexts);
      }
      const forcedBe = await runDecrypt(cipher, [fx.bytes], { byteOrder: 'be' });
      // Read as big-endian, len 21 (15 00 00 00 LE) becomes 0x15000000: refused before buffering.
      expect(forcedBe.error?.code).toBe('LENGTH_OVER_LIMIT');
      expect(forcedBe.blocks).toEqual([]);
    });

    it('starts mid-stream from a block boundary without magic', async () => {
      const fx = fixtureStream(randomPlaintexts([10, 20, 30, 40]));
      const cipher = await createBlockCipher(encryptedFileFor(fx.key, fx.iv), { backend });
      const at = fx.offsets[2] as number;
      const run = await runDecrypt(cipher, [fx.bytes.subarray(at)], {
        expectMagic: false,
        startOffset: at,
      });
      expect(run.blocks.map((b) => [b.seq, b.offset])).toEqual([
        [2, at],
        [3, fx.offsets[3]],
      ]);
      expect(run.blocks.map((b) => b.plaintext)).toEqual(fx.plaintexts.slice(2));
    });

    it('a wrong key fails on block 0 and emits nothing', async () => {
      const fx = fixtureStream(randomPlaintexts([10, 10]));
      const cipher = await createBlockCipher(encryptedFileFor(randomBytes(32), fx.iv), { backend });
      const run = await runDecrypt(cipher, [fx.bytes]);
      expect(run.blocks).toEqual([]);
      expect(run.error?.code).toBe('AUTH_FAILED');
      expect(run.error?.seq).toBe(0);
      expect(run.error?.message).toMatch(/^block 0: GCM tag does not verify .* at offset 4$/);
    });
  });
}
