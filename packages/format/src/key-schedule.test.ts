/**
 * KeySchedule rules (docs/format.md "Key epochs") and whole multi-epoch streams through the
 * ordinary encrypt/decrypt paths, split at every byte around each boundary.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBlockCipher } from './block-cipher.ts';
import { decryptAll } from './decrypt-stream.ts';
import { encryptAll } from './encrypt-stream.ts';
import { generateEncryptedFile } from './encrypted-file.ts';
import { MAX_SEQ } from './format-constants.ts';
import { isFormatError, type FormatErrorCode } from './format-error.ts';
import { createScheduleCipher } from './key-schedule-cipher.ts';
import {
  epochFile,
  epochFromFile,
  generateEpoch,
  KeySchedule,
  parseEpoch,
  type Epoch,
} from './key-schedule.ts';
import { BLOCK_HEADER_SIZE, GCM_TAG_SIZE, MAGIC_SIZE } from './format-constants.ts';

function codeOf(fn: () => unknown): FormatErrorCode | 'none' {
  try {
    fn();
  } catch (err) {
    if (isFormatError(err)) return err.code;
    throw err;
  }
  return 'none';
}

describe('KeySchedule validation', () => {
  it('accepts epochs at strictly increasing startSeq from 0', () => {
    const s = new KeySchedule([generateEpoch(0), generateEpoch(1), generateEpoch(MAX_SEQ)]);
    expect(s.epochs.map((e) => e.startSeq)).toEqual([0, 1, MAX_SEQ]);
    expect(s.last.startSeq).toBe(MAX_SEQ);
  });

  it.each([
    ['no epoch', () => new KeySchedule([])],
    ['first epoch not at 0', () => new KeySchedule([generateEpoch(3)])],
    ['equal startSeq', () => new KeySchedule([generateEpoch(0), generateEpoch(0)])],
    [
      'decreasing startSeq',
      () => new KeySchedule([generateEpoch(0), generateEpoch(9), generateEpoch(8)]),
    ],
    ['negative startSeq', () => parseEpoch({ ...generateEpoch(0), startSeq: -1 })],
    ['fractional startSeq', () => parseEpoch({ ...generateEpoch(0), startSeq: 1.5 })],
    ['startSeq past MAX_SEQ', () => parseEpoch({ ...generateEpoch(0), startSeq: MAX_SEQ + 1 })],
    ['startSeq a string', () => parseEpoch({ ...generateEpoch(0), startSeq: '0' })],
    [
      'short key',
      () => parseEpoch({ ...generateEpoch(0), key: { ...generateEpoch(0).key, k: 'AAAA' } }),
    ],
    ['short iv', () => parseEpoch({ ...generateEpoch(0), iv: 'AAAA' })],
    [
      'wrong alg',
      () => parseEpoch({ ...generateEpoch(0), key: { ...generateEpoch(0).key, alg: 'A128GCM' } }),
    ],
    ['not an object', () => parseEpoch('epoch')],
    ['JSON not an array', () => KeySchedule.parse('{"startSeq":0}')],
    ['not JSON', () => KeySchedule.parse('[')],
    [
      'a reused key',
      () => {
        const a = generateEpoch(0);
        return new KeySchedule([a, { ...generateEpoch(5), key: a.key }]);
      },
    ],
    [
      'a reused iv',
      () => {
        const a = generateEpoch(0);
        return new KeySchedule([a, { ...generateEpoch(5), iv: a.iv }]);
      },
    ],
  ])('refuses %s with BAD_KEY_SCHEDULE', (_name, make) => {
    expect(codeOf(make)).toBe('BAD_KEY_SCHEDULE');
  });

  it('never echoes key material in an error', () => {
    const e = generateEpoch(0);
    try {
      parseEpoch({ ...e, iv: e.key.k });
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain(e.key.k);
    }
  });

  it('round-trips through JSON, and add() keeps the rules', () => {
    const s = new KeySchedule([generateEpoch(0), generateEpoch(40)]);
    const back = KeySchedule.parse(JSON.stringify(s));
    expect(back.toJSON()).toEqual(s.toJSON());
    expect(codeOf(() => back.add(generateEpoch(40)))).toBe('BAD_KEY_SCHEDULE');
    back.add(generateEpoch(41));
    expect(back.epochs).toHaveLength(3);
  });

  it('an EncryptedFile is the schedule of one epoch at 0, and each epoch a plain EncryptedFile', () => {
    const f = generateEncryptedFile();
    const s = KeySchedule.fromFile(f);
    expect(s.epochs).toEqual([{ startSeq: 0, key: f.key, iv: f.iv }]);
    expect(epochFile(epochFromFile(f), 'mxc://a/b')).toEqual({ ...f, url: 'mxc://a/b' });
  });
});

describe('KeySchedule.epochFor: every boundary case', () => {
  const starts = [0, 1, 2, 10, 11, 1000, MAX_SEQ];
  const s = new KeySchedule(starts.map((x) => generateEpoch(x)));
  const expected = (seq: number) => starts.filter((x) => x <= seq).length - 1;

  it.each([0, 1, 2, 3, 9, 10, 11, 12, 999, 1000, 1001, MAX_SEQ - 1, MAX_SEQ])(
    'seq %i → the epoch of greatest startSeq ≤ seq',
    (seq) => {
      expect(s.indexFor(seq)).toBe(expected(seq));
      expect(s.epochFor(seq)).toBe(s.epochs[expected(seq)]);
    },
  );

  it('a seq outside 0..MAX_SEQ is BAD_ARGUMENT', () => {
    for (const seq of [-1, MAX_SEQ + 1, 0.5, NaN])
      expect(codeOf(() => s.epochFor(seq))).toBe('BAD_ARGUMENT');
  });
});

describe('a multi-epoch stream through encryptAll / decryptAll', () => {
  const epochs: Epoch[] = [0, 3, 4, 7].map((x) => generateEpoch(x));
  const plaintexts = Array.from({ length: 10 }, (_, i) => randomBytes(20 + i));

  it('decrypts whole, and under each epoch alone exactly that epoch’s blocks open', async () => {
    const c = await createScheduleCipher(epochs);
    const stream = await encryptAll(c, plaintexts);
    const opened = await decryptAll(await createScheduleCipher(epochs), stream);
    expect(opened.map((b) => b.seq)).toEqual(plaintexts.map((_, i) => i));
    opened.forEach((b, i) =>
      expect(b.plaintext).toEqual(new Uint8Array(plaintexts[i] as Uint8Array)),
    );

    // A plain v3 reader with epoch k's EncryptedFile: blocks of epoch k open, the first other fails.
    for (let k = 0; k < epochs.length; k++) {
      const plain = await createBlockCipher(epochFile(epochs[k] as Epoch));
      for (let seq = 0; seq < plaintexts.length; seq++) {
        const ok = new KeySchedule(epochs).indexFor(seq) === k;
        const offset = blockOffset(seq);
        const len = plaintexts[seq]!.length + GCM_TAG_SIZE;
        const ct = stream.subarray(offset + BLOCK_HEADER_SIZE, offset + BLOCK_HEADER_SIZE + len);
        const got = await plain.decrypt(seq, ct).then(
          () => true,
          () => false,
        );
        expect(got).toBe(ok);
      }
    }
  });

  /** Header offset of block `seq` (sizes are known: 20 + seq bytes of plaintext). */
  function blockOffset(seq: number): number {
    let o = MAGIC_SIZE;
    for (let i = 0; i < seq; i++) o += BLOCK_HEADER_SIZE + plaintexts[i]!.length + GCM_TAG_SIZE;
    return o;
  }

  it('decrypts the same whatever the split, at every byte around each boundary', async () => {
    const stream = await encryptAll(await createScheduleCipher(epochs), plaintexts);
    for (const boundary of [3, 4, 7]) {
      const at = blockOffset(boundary);
      for (let cut = at - BLOCK_HEADER_SIZE - 2; cut <= at + BLOCK_HEADER_SIZE + 2; cut++) {
        const parts = [
          stream.subarray(0, cut),
          stream.subarray(cut, cut + 1),
          stream.subarray(cut + 1),
        ];
        const opened = await decryptAll(
          await createScheduleCipher(epochs, { backend: 'webcrypto' }),
          parts,
        );
        expect(opened.map((b) => b.seq)).toEqual(plaintexts.map((_, i) => i));
      }
    }
  });

  it('a stream sealed with a boundary one block off fails AUTH_FAILED at that block, nothing after', async () => {
    const moved = epochs.map((e) => (e.startSeq === 4 ? { ...e, startSeq: 5 } : e));
    const stream = await encryptAll(await createScheduleCipher(moved), plaintexts);
    const err = await decryptAll(await createScheduleCipher(epochs), stream).catch(
      (e: unknown) => e,
    );
    expect(isFormatError(err, 'AUTH_FAILED')).toBe(true);
    expect((err as { seq?: number }).seq).toBe(4);
  });
});
