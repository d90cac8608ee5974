/**
 * ScheduleCipher: a BlockCipher over a KeySchedule (docs/format.md "Key epochs"). Each epoch gets
 * the ordinary cipher of its key and IV (createBlockCipher, one per epoch, made once); a block is
 * handed to the cipher of the epoch that seals its seq. Nothing about the cipher is duplicated:
 * every encrypt/decrypt stream, writer and reader that takes a BlockCipher takes this one, and a
 * schedule of one epoch behaves exactly like the single-key cipher of that EncryptedFile.
 */
import {
  createBlockCipher,
  type BlockCipher,
  type BlockCipherOptions,
  type CipherBackend,
  type SyncBlockCipher,
} from './block-cipher.ts';
import type { ByteOrder } from './format-constants.ts';
import { FormatError } from './format-error.ts';
import { epochFile, KeySchedule, type Epoch } from './key-schedule.ts';

export interface ScheduleCipher extends BlockCipher {
  readonly schedule: KeySchedule;
  /**
   * Appends an epoch (KeySchedule rules), its cipher ready before it takes effect. Rejects with
   * BAD_KEY_SCHEDULE when a block at or after its startSeq was already sealed by this cipher: a
   * boundary is announced ahead and never lands on a block already written.
   */
  add(epoch: Epoch): Promise<void>;
  /** Highest seq this cipher has sealed (encrypt), or -1. */
  readonly sealedSeq: number;
}

export async function createScheduleCipher(
  input: KeySchedule | readonly Epoch[],
  options: BlockCipherOptions = {},
): Promise<ScheduleCipher> {
  const schedule = input instanceof KeySchedule ? input : new KeySchedule(input);
  const ciphers: BlockCipher[] = await Promise.all(
    schedule.epochs.map((e) => createBlockCipher(epochFile(e), options)),
  );
  const first = ciphers[0] as BlockCipher;
  const backend: CipherBackend = first.backend;
  // Every epoch's cipher comes from the same backend, so all have the sync forms or none.
  const hasSync = first.sync !== null;
  let sealedSeq = -1;
  const pick = (seq: number): BlockCipher => {
    const c = ciphers[schedule.indexFor(seq)];
    // An epoch pushed onto the schedule directly, not through add(), has no cipher here.
    if (!c) throw new FormatError('BAD_KEY_SCHEDULE', 'an epoch was added without its cipher');
    return c;
  };
  const sealing = (seq: number): BlockCipher => {
    const c = pick(seq);
    if (seq > sealedSeq) sealedSeq = seq;
    return c;
  };

  const sync: SyncBlockCipher | null = hasSync
    ? {
        encrypt: (seq, plaintext, byteOrder?: ByteOrder) =>
          (sealing(seq).sync as SyncBlockCipher).encrypt(seq, plaintext, byteOrder),
        decrypt: (seq, ciphertext, byteOrder?: ByteOrder) =>
          (pick(seq).sync as SyncBlockCipher).decrypt(seq, ciphertext, byteOrder),
        encryptInto: (seq, plaintext, target, offset, byteOrder?: ByteOrder) =>
          (sealing(seq).sync as SyncBlockCipher).encryptInto(
            seq,
            plaintext,
            target,
            offset,
            byteOrder,
          ),
        allocate: (length) => (first.sync as SyncBlockCipher).allocate(length),
      }
    : null;

  return {
    backend,
    schedule,
    sync,
    get sealedSeq() {
      return sealedSeq;
    },
    encrypt: (seq, plaintext, byteOrder) => sealing(seq).encrypt(seq, plaintext, byteOrder),
    decrypt: (seq, ciphertext, byteOrder) => pick(seq).decrypt(seq, ciphertext, byteOrder),
    async add(epoch) {
      const checked = schedule.check(epoch);
      const cipher = await createBlockCipher(epochFile(checked), { backend });
      // Checked again after the await: another add or blocks sealed meanwhile.
      schedule.check(checked);
      if (checked.startSeq <= sealedSeq) {
        throw new FormatError(
          'BAD_KEY_SCHEDULE',
          `an epoch cannot start at seq ${checked.startSeq}: block ${sealedSeq} is already sealed`,
          { seq: checked.startSeq },
        );
      }
      schedule.add(checked);
      ciphers.push(cipher);
    },
  };
}
