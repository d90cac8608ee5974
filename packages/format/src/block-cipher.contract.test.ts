/**
 * The one cipher contract (testing/block-cipher-contract.ts) over every BlockCipher backend.
 * A new backend is one more row here. A ScheduleCipher of one epoch is a row too (it must be the
 * single-key cipher exactly); the multi-epoch cases below hold it to docs/format.md "Key epochs".
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBlockCipher, type CipherBackend } from './block-cipher.ts';
import { isFormatError } from './format-error.ts';
import { createScheduleCipher } from './key-schedule-cipher.ts';
import { epochFile, generateEpoch, type Epoch } from './key-schedule.ts';
import { blockCipherContract, type CipherImplementation } from './testing/block-cipher-contract.ts';
import { encryptedFileFor } from './testing/stream-fixtures.ts';

const SCHEDULE_FIELDS = ['add', 'schedule', 'sealedSeq'];
const epochOf = (key: Uint8Array, iv: Uint8Array): Epoch => ({
  startSeq: 0,
  ...encryptedFileFor(key, iv),
});

const implementations: CipherImplementation[] = [
  {
    backend: 'node',
    sync: true,
    make: (key, iv) => createBlockCipher(encryptedFileFor(key, iv), { backend: 'node' }),
  },
  {
    backend: 'webcrypto',
    sync: false,
    make: (key, iv) => createBlockCipher(encryptedFileFor(key, iv), { backend: 'webcrypto' }),
  },
  ...(['node', 'webcrypto'] as const).map((backend): CipherImplementation => ({
    backend,
    name: `schedule of one epoch over ${backend}`,
    sync: backend === 'node',
    extraFields: SCHEDULE_FIELDS,
    make: (key, iv) => createScheduleCipher([epochOf(key, iv)], { backend }),
  })),
];

for (const impl of implementations) {
  blockCipherContract(
    impl,
    implementations.filter((i) => i !== impl),
  );
}

/** Epochs at 0, 5, 6 and 100: a one-block epoch and a long one. */
function threeBoundaries(): Epoch[] {
  return [0, 5, 6, 100].map((s) => generateEpoch(s));
}

const BACKENDS: CipherBackend[] = ['node', 'webcrypto'];
for (const backend of BACKENDS) {
  const peer: CipherBackend = backend === 'node' ? 'webcrypto' : 'node';
  describe(`ScheduleCipher over ${backend}`, () => {
    const SEQS = [0, 4, 5, 6, 7, 99, 100, 101, 5000];

    it('seals each block under the epoch of greatest startSeq ≤ seq, which a plain v3 cipher of that epoch opens', async () => {
      const epochs = threeBoundaries();
      const c = await createScheduleCipher(epochs, { backend });
      const plain = await Promise.all(
        epochs.map((e) => createBlockCipher(epochFile(e), { backend: peer })),
      );
      for (const seq of SEQS) {
        const p = randomBytes(50 + seq);
        const sealed = await c.encrypt(seq, p);
        const k = [...epochs].reverse().findIndex((e) => e.startSeq <= seq);
        const right = epochs.length - 1 - k;
        expect(await plain[right]?.decrypt(seq, sealed)).toEqual(new Uint8Array(p));
        for (let other = 0; other < epochs.length; other++) {
          if (other === right) continue;
          const err = await plain[other]?.decrypt(seq, sealed).catch((e: unknown) => e);
          expect(isFormatError(err, 'AUTH_FAILED')).toBe(true);
        }
        expect(await c.decrypt(seq, sealed)).toEqual(new Uint8Array(p));
        if (c.sync) expect(c.sync.decrypt(seq, sealed)).toEqual(new Uint8Array(p));
      }
    });

    it('refuses a block whose ciphertext belongs to the neighbouring epoch (a moved boundary)', async () => {
      const epochs = threeBoundaries();
      const c = await createScheduleCipher(epochs, { backend });
      const e1 = await createBlockCipher(epochFile(epochs[1] as Epoch), { backend: peer });
      const e0 = await createBlockCipher(epochFile(epochs[0] as Epoch), { backend: peer });
      // Block 5 is epoch 1's: sealed under epoch 0 (the boundary moved later) it must fail.
      const moved = await e0.encrypt(5, randomBytes(40));
      expect(isFormatError(await c.decrypt(5, moved).catch((e: unknown) => e), 'AUTH_FAILED')).toBe(
        true,
      );
      // Block 4 is epoch 0's: sealed under epoch 1 (the boundary moved earlier) it must fail.
      const early = await e1.encrypt(4, randomBytes(40));
      expect(isFormatError(await c.decrypt(4, early).catch((e: unknown) => e), 'AUTH_FAILED')).toBe(
        true,
      );
    });

    it('grows with add(): a new epoch takes effect at its startSeq, never on a block already sealed', async () => {
      const first = generateEpoch(0);
      const c = await createScheduleCipher([first], { backend });
      expect(c.sealedSeq).toBe(-1);
      await c.encrypt(0, randomBytes(10));
      await c.encrypt(9, randomBytes(10));
      expect(c.sealedSeq).toBe(9);
      const late = generateEpoch(9);
      const err = await c.add(late).catch((e: unknown) => e);
      expect(isFormatError(err, 'BAD_KEY_SCHEDULE')).toBe(true);
      expect(c.schedule.epochs).toHaveLength(1);
      const next = generateEpoch(10);
      await c.add(next);
      const p = randomBytes(64);
      const sealed = await c.encrypt(10, p);
      const plainNext = await createBlockCipher(epochFile(next), { backend: peer });
      expect(await plainNext.decrypt(10, sealed)).toEqual(new Uint8Array(p));
      expect(c.schedule.epochFor(9)).toEqual(c.schedule.epochs[0]);
      expect(c.schedule.epochFor(10)).toEqual(c.schedule.epochs[1]);
      // Reusing the first epoch's key and IV under a later start is refused too.
      const reused = await c.add({ ...first, startSeq: 20 }).catch((e: unknown) => e);
      expect(isFormatError(reused, 'BAD_KEY_SCHEDULE')).toBe(true);
    });
  });
}
