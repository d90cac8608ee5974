import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBlockCipher, type CipherBackend } from './block-cipher.ts';
import { BlockWriter } from './block-writer.ts';
import { encryptAll } from './encrypt-stream.ts';
import { FormatError } from './format-error.ts';
import { MAX_SEQ } from './format-constants.ts';
import {
  encryptedFileFor,
  fixtureStream,
  frameBlock,
  randomPlaintexts,
  sealBlock,
} from './testing/stream-fixtures.ts';

const backends: CipherBackend[] = ['node', 'webcrypto'];

describe('BlockCipher', () => {
  it('picks node:crypto automatically in Node and WebCrypto when asked', async () => {
    const file = encryptedFileFor(randomBytes(32), randomBytes(12));
    expect((await createBlockCipher(file)).backend).toBe('node');
    expect((await createBlockCipher(file, { backend: 'webcrypto' })).backend).toBe('webcrypto');
  });

  for (const backend of backends) {
    describe(backend, () => {
      it('encrypts exactly as node:crypto does with IV = seq‖iv and AAD = seq (known answer)', async () => {
        const key = randomBytes(32);
        const iv = randomBytes(12);
        const cipher = await createBlockCipher(encryptedFileFor(key, iv), { backend });
        for (const [seq, size] of [
          [0, 0],
          [1, 1],
          [258, 1000],
          [MAX_SEQ, 33],
        ] as const) {
          const p = randomBytes(size);
          for (const order of ['be', 'le'] as const) {
            const expected = sealBlock(key, iv, seq, p, order);
            expect(await cipher.encrypt(seq, p, order)).toEqual(expected);
            expect(await cipher.decrypt(seq, expected, order)).toEqual(new Uint8Array(p));
          }
        }
      });

      it('writes a whole stream byte-identical to the independent fixture', async () => {
        const plaintexts = randomPlaintexts([0, 1, 140, 1024, 3]);
        const fx = fixtureStream(plaintexts);
        const cipher = await createBlockCipher(encryptedFileFor(fx.key, fx.iv), { backend });
        expect(await encryptAll(cipher, plaintexts)).toEqual(fx.bytes);
      });

      it('refuses a wrong seq, byte order, key or tampered tag with AUTH_FAILED', async () => {
        const key = randomBytes(32);
        const iv = randomBytes(12);
        const cipher = await createBlockCipher(encryptedFileFor(key, iv), { backend });
        const other = await createBlockCipher(encryptedFileFor(randomBytes(32), iv), { backend });
        const ct = sealBlock(key, iv, 5, randomBytes(50), 'be');
        const tampered = Uint8Array.from(ct);
        tampered[ct.length - 1] = (tampered[ct.length - 1] as number) ^ 1;
        const attempts = [
          () => cipher.decrypt(6, ct),
          () => cipher.decrypt(5, ct, 'le'),
          () => other.decrypt(5, ct),
          () => cipher.decrypt(5, tampered),
          () => cipher.decrypt(5, ct.subarray(0, 15)),
        ];
        for (const attempt of attempts) {
          const err = await attempt().then(
            () => null,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(FormatError);
          expect((err as FormatError).code).toBe('AUTH_FAILED');
          expect((err as FormatError).message).toMatch(/^block \d+: /);
        }
      });

      it('BlockWriter frames blocks and stops before seq would wrap', async () => {
        const key = randomBytes(32);
        const iv = randomBytes(12);
        const cipher = await createBlockCipher(encryptedFileFor(key, iv), { backend });
        const writer = new BlockWriter(cipher, { startSeq: MAX_SEQ - 1 });
        const p = randomBytes(7);
        expect(await writer.write(p)).toEqual(
          frameBlock(MAX_SEQ - 1, sealBlock(key, iv, MAX_SEQ - 1, p, 'be'), 'be'),
        );
        expect(await writer.write(p)).toEqual(
          frameBlock(MAX_SEQ, sealBlock(key, iv, MAX_SEQ, p, 'be'), 'be'),
        );
        expect(writer.nextSeq).toBe(MAX_SEQ + 1);
        await expect(writer.write(p)).rejects.toMatchObject({ code: 'SEQ_EXHAUSTED' });
        expect(() => new BlockWriter(cipher, { startSeq: MAX_SEQ + 1 })).toThrow(/seq 4294967296/);
        expect(writer.magic()).toEqual(Uint8Array.of(0x4d, 0x58, 0x43, 0x03));
        expect(writer.canWriteSync).toBe(backend === 'node');
        if (backend === 'node') expect(() => writer.writeSync(p)).toThrow(/would wrap/);
        else expect(() => writer.writeSync(p)).toThrow(/no synchronous encrypt/);
      });

      it('overlapping writes take consecutive seqs', async () => {
        const cipher = await createBlockCipher(encryptedFileFor(randomBytes(32), randomBytes(12)), {
          backend,
        });
        const writer = new BlockWriter(cipher);
        const blocks = await Promise.all([1, 2, 3].map((n) => writer.write(new Uint8Array(n))));
        expect(blocks.map((b) => new DataView(b.buffer, b.byteOffset).getUint32(4))).toEqual([
          0, 1, 2,
        ]);
      });
    });
  }
});
