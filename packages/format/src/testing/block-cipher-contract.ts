/**
 * The BlockCipher contract as one table of cases, run over every backend the way tus-node-server
 * runs one store suite over every store: a backend is correct when it passes all of them, and a
 * new backend is added by adding one line to block-cipher.contract.test.ts.
 * The contract (docs/format.md, MSC4016 v3): AES-256-GCM, IV = seq(4) ‖ file.iv(12), AAD = seq(4),
 * both in the stream's byte order; output = ciphertext ‖ 16-byte tag; any failure to verify is
 * FormatError AUTH_FAILED naming the block and returns no plaintext; a seq outside 0..MAX_SEQ is
 * BAD_ARGUMENT. The synchronous capability is all-or-nothing (`sync` is null or has all four).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { BlockCipher, CipherBackend } from '../block-cipher.ts';
import { DEFAULT_MAX_BLOCK_LENGTH, GCM_TAG_SIZE, MAX_SEQ } from '../format-constants.ts';
import { FormatError } from '../format-error.ts';
import { sealBlock } from './stream-fixtures.ts';

export interface CipherImplementation {
  backend: CipherBackend;
  /** True when the backend must offer the synchronous capability. */
  sync: boolean;
  make(key: Uint8Array, iv: Uint8Array): Promise<BlockCipher>;
  /** Label when two rows share a backend (a ScheduleCipher over it); default the backend. */
  name?: string;
  /** Fields beyond the four of BlockCipher that this implementation adds (a ScheduleCipher's). */
  extraFields?: readonly string[];
}

/** The worked example of docs/format.md: key 00..1f, iv a0..ab, seq 0, "hello mxcast". */
const WORKED = {
  key: Uint8Array.from({ length: 32 }, (_, i) => i),
  iv: Uint8Array.from({ length: 12 }, (_, i) => 0xa0 + i),
  plaintext: new TextEncoder().encode('hello mxcast'),
  // Bytes 20.. of the documented stream TVhDA/////8AAAAAAAAAHPG1…: ciphertext ‖ tag of block 0.
  sealed: Buffer.from('TVhDA/////8AAAAAAAAAHPG14rMkfDHR4yDLxINdc4BFnQGLERDxfeQQFg5lzQTN', 'base64')
    .subarray(20)
    .valueOf(),
};

/** Sizes around the tag and the default block limit: empty, sub-block, one AES block, 1 MiB. */
export const CONTRACT_BLOCK_SIZES = [
  0,
  1,
  15,
  16,
  17,
  1000,
  4096,
  65_536,
  DEFAULT_MAX_BLOCK_LENGTH - GCM_TAG_SIZE,
];
const SEQS = [0, 1, 0x01020304, MAX_SEQ];

async function failure(attempt: () => Promise<unknown> | unknown): Promise<unknown> {
  try {
    await attempt();
  } catch (err) {
    return err;
  }
  return null;
}

function flip(bytes: Uint8Array, at: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[at] = (out[at] as number) ^ 0x01;
  return out;
}

/** Runs the whole contract for `impl`; `peers` are the other backends, for cross-decryption. */
export function blockCipherContract(
  impl: CipherImplementation,
  peers: readonly CipherImplementation[],
): void {
  describe(`BlockCipher contract: ${impl.name ?? impl.backend}`, () => {
    const key = randomBytes(32);
    const iv = randomBytes(12);
    const cipher = () => impl.make(key, iv);

    it('reports its backend and fences the synchronous forms behind one capability', async () => {
      const c = await cipher();
      expect(c.backend).toBe(impl.backend);
      // No optional methods to probe: exactly these four fields.
      expect(Object.keys(c).sort()).toEqual(
        ['backend', 'decrypt', 'encrypt', 'sync', ...(impl.extraFields ?? [])].sort(),
      );
      if (!impl.sync) {
        expect(c.sync).toBeNull();
        return;
      }
      expect(c.sync).not.toBeNull();
      for (const m of ['encrypt', 'decrypt', 'encryptInto', 'allocate'] as const) {
        expect(typeof c.sync?.[m]).toBe('function');
      }
    });

    it('seals the worked example of docs/format.md to its documented bytes', async () => {
      const c = await impl.make(WORKED.key, WORKED.iv);
      expect(await c.encrypt(0, WORKED.plaintext)).toEqual(new Uint8Array(WORKED.sealed));
      expect(await c.decrypt(0, WORKED.sealed)).toEqual(WORKED.plaintext);
    });

    it.each(CONTRACT_BLOCK_SIZES)(
      'round-trips a %i-byte block, equal to node:crypto',
      async (size) => {
        const c = await cipher();
        const p = randomBytes(size);
        const sealed = await c.encrypt(7, p);
        expect(sealed.length).toBe(size + GCM_TAG_SIZE);
        expect(Buffer.from(sealed).equals(Buffer.from(sealBlock(key, iv, 7, p, 'be')))).toBe(true);
        expect(Buffer.from(await c.decrypt(7, sealed)).equals(p)).toBe(true);
      },
    );

    it.each(SEQS)(
      'seq %i: IV and AAD in either byte order, and the two orders differ',
      async (seq) => {
        const c = await cipher();
        const p = randomBytes(40);
        const be = await c.encrypt(seq, p, 'be');
        const le = await c.encrypt(seq, p, 'le');
        expect(be).toEqual(sealBlock(key, iv, seq, p, 'be'));
        expect(le).toEqual(sealBlock(key, iv, seq, p, 'le'));
        expect(await c.decrypt(seq, le, 'le')).toEqual(new Uint8Array(p));
        // A palindromic seq (0, MAX_SEQ) is the same in both orders; any other must not open.
        const palindrome = seq === 0 || seq === MAX_SEQ;
        expect(Buffer.from(be).equals(Buffer.from(le))).toBe(palindrome);
        if (!palindrome) {
          expect(await failure(() => c.decrypt(seq, le, 'be'))).toMatchObject({
            code: 'AUTH_FAILED',
          });
        }
      },
    );

    const p = randomBytes(64);
    const wrongs: [string, () => Promise<Uint8Array>][] = [
      [
        'a wrong key',
        async () =>
          (await impl.make(randomBytes(32), iv)).decrypt(3, sealBlock(key, iv, 3, p, 'be')),
      ],
      [
        'a wrong file IV',
        async () =>
          (await impl.make(key, randomBytes(12))).decrypt(3, sealBlock(key, iv, 3, p, 'be')),
      ],
      ['a wrong seq', async () => (await cipher()).decrypt(4, sealBlock(key, iv, 3, p, 'be'))],
      [
        'the wrong byte order',
        async () => (await cipher()).decrypt(3, sealBlock(key, iv, 3, p, 'le'), 'be'),
      ],
      [
        'a flipped first ciphertext byte',
        async () => (await cipher()).decrypt(3, flip(sealBlock(key, iv, 3, p, 'be'), 0)),
      ],
      [
        'a flipped last ciphertext byte',
        async () => (await cipher()).decrypt(3, flip(sealBlock(key, iv, 3, p, 'be'), 63)),
      ],
      [
        'a flipped first tag byte',
        async () => (await cipher()).decrypt(3, flip(sealBlock(key, iv, 3, p, 'be'), 64)),
      ],
      [
        'a flipped last tag byte',
        async () => (await cipher()).decrypt(3, flip(sealBlock(key, iv, 3, p, 'be'), 79)),
      ],
      [
        'a block cut inside the tag',
        async () => (await cipher()).decrypt(3, sealBlock(key, iv, 3, p, 'be').subarray(0, 70)),
      ],
      ['a block shorter than the tag', async () => (await cipher()).decrypt(3, new Uint8Array(15))],
      ['an empty block', async () => (await cipher()).decrypt(3, new Uint8Array(0))],
    ];
    it.each(wrongs)(
      'refuses %s with AUTH_FAILED naming the block, and no plaintext',
      async (_, attempt) => {
        const err = await failure(attempt);
        expect(err).toBeInstanceOf(FormatError);
        expect(err).toMatchObject({ code: 'AUTH_FAILED', seq: expect.any(Number) });
        expect((err as Error).message).toMatch(/^block \d+: /);
      },
    );

    it.each([-1, 1.5, MAX_SEQ + 1, Number.NaN])('refuses seq %s with BAD_ARGUMENT', async (seq) => {
      const c = await cipher();
      expect(await failure(() => c.encrypt(seq, p))).toMatchObject({ code: 'BAD_ARGUMENT' });
      expect(await failure(() => c.decrypt(seq, new Uint8Array(32)))).toMatchObject({
        code: 'BAD_ARGUMENT',
      });
    });

    it('leaves its inputs alone, and earlier outputs stay valid after later calls', async () => {
      const c = await cipher();
      const a = randomBytes(100);
      const aCopy = Buffer.from(a);
      const sealedA = await c.encrypt(1, a);
      const keptA = Buffer.from(sealedA);
      const sealedB = await c.encrypt(2, randomBytes(100));
      const sealedBCopy = Buffer.from(sealedB);
      await c.decrypt(2, sealedB);
      expect(Buffer.from(a).equals(aCopy)).toBe(true);
      expect(Buffer.from(sealedA).equals(keptA)).toBe(true);
      expect(Buffer.from(sealedB).equals(sealedBCopy)).toBe(true);
    });

    it('runs overlapping calls without mixing their blocks', async () => {
      const c = await cipher();
      const ps = [0, 1, 2, 3, 4, 5, 6, 7].map((n) => randomBytes(50 + n));
      const sealed = await Promise.all(ps.map((q, seq) => c.encrypt(seq, q)));
      sealed.forEach((s, seq) =>
        expect(s).toEqual(sealBlock(key, iv, seq, ps[seq] as Uint8Array, 'be')),
      );
      const opened = await Promise.all(sealed.map((s, seq) => c.decrypt(seq, s)));
      opened.forEach((o, seq) => expect(o).toEqual(new Uint8Array(ps[seq] as Uint8Array)));
    });

    for (const peer of peers) {
      it(`opens what ${peer.name ?? peer.backend} sealed, and ${peer.name ?? peer.backend} opens what it sealed`, async () => {
        const c = await cipher();
        const other = await peer.make(key, iv);
        const q = randomBytes(333);
        expect(await c.decrypt(9, await other.encrypt(9, q, 'le'), 'le')).toEqual(
          new Uint8Array(q),
        );
        expect(await other.decrypt(9, await c.encrypt(9, q))).toEqual(new Uint8Array(q));
      });
    }

    if (impl.sync) {
      it('sync forms give the same bytes and the same errors as the promise forms', async () => {
        const c = await cipher();
        const sync = c.sync;
        if (!sync) throw new Error('sync capability missing');
        for (const order of ['be', 'le'] as const) {
          const q = randomBytes(77);
          const sealed = sync.encrypt(11, q, order);
          expect(sealed).toEqual(await c.encrypt(11, q, order));
          expect(sync.decrypt(11, sealed, order)).toEqual(new Uint8Array(q));
          expect(await failure(() => sync.decrypt(11, flip(sealed, 80), order))).toMatchObject({
            code: 'AUTH_FAILED',
            seq: 11,
          });
        }
        expect(await failure(() => sync.encrypt(MAX_SEQ + 1, p))).toMatchObject({
          code: 'BAD_ARGUMENT',
        });
      });

      it('encryptInto writes ciphertext ‖ tag exactly at the offset; allocate gives plain bytes', async () => {
        const sync = (await cipher()).sync;
        if (!sync) throw new Error('sync capability missing');
        const q = randomBytes(48);
        const target = new Uint8Array(10 + 48 + GCM_TAG_SIZE + 10).fill(0xee);
        sync.encryptInto(5, q, target, 10, 'le');
        expect(target.subarray(10, 10 + 64)).toEqual(sealBlock(key, iv, 5, q, 'le'));
        expect([...target.subarray(0, 10), ...target.subarray(74)].every((b) => b === 0xee)).toBe(
          true,
        );
        const block = sync.allocate(123);
        expect(block.constructor).toBe(Uint8Array);
        expect(block.length).toBe(123);
      });
    }
  });
}
