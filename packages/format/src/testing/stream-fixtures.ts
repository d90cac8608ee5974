/**
 * Test-only fixtures (Node): MXC v3 streams built independently of the library, straight from
 * docs/format.md with node:crypto and zlib.crc32, so tests check the library against the spec and
 * not against itself. Never imported by the library.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { concatBytes } from '../concat-bytes.ts';

export type Order = 'be' | 'le';

export const MAGIC_BYTES = Uint8Array.of(0x4d, 0x58, 0x43, 0x03);

export function u32(n: number, order: Order): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, order === 'le');
  return b;
}

/** The package's own concatenation, under the short name the format tests use. */
export const concat = concatBytes;

/** One framed block; crc as docs/format.md says for BE, 0 for the legacy LE form unless given. */
export function frameBlock(seq: number, ct: Uint8Array, order: Order, crc?: number): Uint8Array {
  const head = concat([u32(0xffffffff, order), u32(seq, order), u32(ct.length, order)]);
  const value = crc ?? (order === 'be' ? zlibCrc32(Buffer.from(concat([head, ct]))) : 0);
  return concat([head, u32(value, order), ct]);
}

/** AES-256-GCM of one block with node:crypto: IV = seq ‖ file iv, AAD = seq, in `order`. */
export function sealBlock(
  key: Uint8Array,
  iv: Uint8Array,
  seq: number,
  plaintext: Uint8Array,
  order: Order,
): Uint8Array {
  const cipher = createCipheriv('aes-256-gcm', key, concat([u32(seq, order), iv]));
  cipher.setAAD(u32(seq, order));
  return concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

export interface FixtureStream {
  key: Uint8Array;
  iv: Uint8Array;
  plaintexts: Uint8Array[];
  blocks: Uint8Array[];
  /** Offsets of each block's header in `bytes`. */
  offsets: number[];
  bytes: Uint8Array;
}

/** A whole stream (magic + blocks) encrypted independently of the library. */
export function fixtureStream(
  plaintexts: readonly Uint8Array[],
  order: Order = 'be',
  key: Uint8Array = randomBytes(32),
  iv: Uint8Array = randomBytes(12),
): FixtureStream {
  const blocks = plaintexts.map((p, seq) =>
    frameBlock(seq, sealBlock(key, iv, seq, p, order), order),
  );
  const offsets: number[] = [];
  let at = 4;
  for (const b of blocks) {
    offsets.push(at);
    at += b.length;
  }
  return {
    key,
    iv,
    plaintexts: [...plaintexts],
    blocks,
    offsets,
    bytes: concat([MAGIC_BYTES, ...blocks]),
  };
}

/** Random plaintexts of the given sizes. */
export function randomPlaintexts(sizes: readonly number[]): Uint8Array[] {
  return sizes.map((n) => new Uint8Array(randomBytes(n)));
}

/** Every way to cut `bytes` in two, plus byte-by-byte. */
export function* splits(bytes: Uint8Array): Generator<Uint8Array[]> {
  for (let i = 0; i <= bytes.length; i++) yield [bytes.subarray(0, i), bytes.subarray(i)];
  yield Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
}

export function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

export function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/=+$/, '');
}

/** An EncryptedFile object for given key and iv bytes, written out by hand (not by the library). */
export function encryptedFileFor(key: Uint8Array, iv: Uint8Array) {
  return {
    v: 'org.matrix.msc4016.v3' as const,
    key: {
      kty: 'oct' as const,
      alg: 'A256GCM' as const,
      k: base64url(key),
      ext: true as const,
      key_ops: ['encrypt', 'decrypt'],
    },
    iv: base64(iv),
  };
}
