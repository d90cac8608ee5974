/**
 * The node:crypto BlockCipher: the Node fast path behind the BlockCipher interface, with
 * synchronous forms (a KeyObject made once; no promise per block). Same bytes as WebCrypto.
 * Decipher.update yields bytes before the tag is checked; they are returned only after final()
 * has verified it, so no unauthenticated byte ever leaves (DESIGN.md §2: only the tag authenticates).
 */
import { createCipheriv, createDecipheriv, createSecretKey } from 'node:crypto';
import type { BlockCipher } from './block-cipher.ts';
import { blockAad, blockIv, checkSeq } from './block-nonce.ts';
import { GCM_TAG_SIZE, type ByteOrder } from './format-constants.ts';
import { FormatError } from './format-error.ts';

export function createNodeBlockCipher(key: Uint8Array, fileIv: Uint8Array): BlockCipher {
  const keyObject = createSecretKey(key);

  function encryptSync(
    seq: number,
    plaintext: Uint8Array,
    byteOrder: ByteOrder = 'be',
  ): Uint8Array {
    checkSeq(seq);
    const cipher = createCipheriv('aes-256-gcm', keyObject, blockIv(seq, fileIv, byteOrder));
    cipher.setAAD(blockAad(seq, byteOrder));
    const out = new Uint8Array(plaintext.length + GCM_TAG_SIZE);
    const body = cipher.update(plaintext);
    out.set(body, 0);
    const tail = cipher.final();
    out.set(tail, body.length);
    out.set(cipher.getAuthTag(), plaintext.length);
    return out;
  }

  function decryptSync(
    seq: number,
    ciphertext: Uint8Array,
    byteOrder: ByteOrder = 'be',
  ): Uint8Array {
    checkSeq(seq);
    if (ciphertext.length < GCM_TAG_SIZE) {
      throw new FormatError(
        'AUTH_FAILED',
        `block ${seq}: ${ciphertext.length} bytes, shorter than the tag`,
        {
          seq,
        },
      );
    }
    const split = ciphertext.length - GCM_TAG_SIZE;
    const decipher = createDecipheriv('aes-256-gcm', keyObject, blockIv(seq, fileIv, byteOrder));
    decipher.setAAD(blockAad(seq, byteOrder));
    decipher.setAuthTag(ciphertext.subarray(split));
    const body = decipher.update(ciphertext.subarray(0, split));
    try {
      decipher.final();
    } catch (err) {
      body.fill(0);
      throw new FormatError(
        'AUTH_FAILED',
        `block ${seq}: GCM tag does not verify (wrong key, or block altered)`,
        {
          seq,
          cause: err,
        },
      );
    }
    return new Uint8Array(body.buffer, body.byteOffset, body.length);
  }

  return {
    backend: 'node',
    encryptSync,
    decryptSync,
    encrypt: async (seq, plaintext, byteOrder) => encryptSync(seq, plaintext, byteOrder),
    decrypt: async (seq, ciphertext, byteOrder) => decryptSync(seq, ciphertext, byteOrder),
  };
}
