/**
 * BlockCipher: AES-256-GCM of one block's plaintext under an EncryptedFile (docs/format.md).
 * The core is WebCrypto (browsers and Node); in Node a node:crypto fast path with the same
 * interface is chosen automatically. Decryption returns nothing unless the tag verifies.
 */
import { encryptedFileSecrets, type EncryptedFile } from './encrypted-file.ts';
import type { ByteOrder } from './format-constants.ts';
import { createWebCryptoBlockCipher } from './webcrypto-block-cipher.ts';

export type CipherBackend = 'node' | 'webcrypto';

/**
 * The synchronous capability of a backend (node:crypto): all four methods or none, so callers
 * test one field (`cipher.sync`) instead of probing optional methods one by one. Same bytes and
 * errors as the promise forms of the BlockCipher; they save a promise per block on the hot path.
 */
export interface SyncBlockCipher {
  encrypt(seq: number, plaintext: Uint8Array, byteOrder?: ByteOrder): Uint8Array;
  decrypt(seq: number, ciphertext: Uint8Array, byteOrder?: ByteOrder): Uint8Array;
  /** encrypt writing ciphertext ‖ tag into `target` at `offset` (saves a copy per block). */
  encryptInto(
    seq: number,
    plaintext: Uint8Array,
    target: Uint8Array,
    offset: number,
    byteOrder?: ByteOrder,
  ): void;
  /**
   * Allocates an output buffer (contents undefined; the caller overwrites all of it). In Node it
   * comes from Buffer's pool, saving a zero-filled ArrayBuffer per small block.
   */
  allocate(length: number): Uint8Array;
}

/**
 * The format's cipher contract (docs/format.md), the same for every backend and checked by one
 * test table over all of them (block-cipher.contract.test.ts).
 */
export interface BlockCipher {
  readonly backend: CipherBackend;
  /** Ciphertext ‖ 16-byte tag of block `seq`. Writers use only the default big-endian form. */
  encrypt(seq: number, plaintext: Uint8Array, byteOrder?: ByteOrder): Promise<Uint8Array>;
  /** Plaintext of block `seq`; rejects with FormatError AUTH_FAILED when the tag does not verify. */
  decrypt(seq: number, ciphertext: Uint8Array, byteOrder?: ByteOrder): Promise<Uint8Array>;
  /** The synchronous forms, or null on backends that cannot do them (WebCrypto is async only). */
  readonly sync: SyncBlockCipher | null;
}

export interface BlockCipherOptions {
  /** 'auto' (default): node:crypto when running in Node, WebCrypto elsewhere. */
  backend?: 'auto' | CipherBackend;
}

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

export async function createBlockCipher(
  file: EncryptedFile,
  options: BlockCipherOptions = {},
): Promise<BlockCipher> {
  const { key, iv } = encryptedFileSecrets(file);
  const backend = options.backend ?? 'auto';
  if (backend === 'node' || (backend === 'auto' && isNode())) {
    // Loaded only in Node, so browser bundles never evaluate node:crypto.
    const { createNodeBlockCipher } = await import('./node-block-cipher.ts');
    return createNodeBlockCipher(key, iv);
  }
  return createWebCryptoBlockCipher(key, iv);
}
