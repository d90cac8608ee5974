/**
 * The node:crypto BlockCipher: the Node fast path behind the BlockCipher interface, with
 * synchronous forms (a KeyObject made once; no promise per block). Same bytes as WebCrypto
 * (IV = seq ‖ file.iv, AAD = seq, docs/format.md "The container").
 * Decipher.update yields bytes before the tag is checked; they are returned only after final()
 * has verified it, so no unauthenticated byte ever leaves (docs/format.md "CRC scope": only the
 * tag authenticates).
 */
import { createCipheriv, createDecipheriv, createSecretKey } from 'node:crypto';
import type { BlockCipher, SyncBlockCipher } from './block-cipher.ts';
import { checkSeq } from './block-nonce.ts';
import { GCM_TAG_SIZE, type ByteOrder } from './format-constants.ts';
import { FormatError } from './format-error.ts';

export function createNodeBlockCipher(key: Uint8Array, fileIv: Uint8Array): BlockCipher {
  const keyObject = createSecretKey(key);
  // One scratch IV per cipher: createCipheriv/setAAD copy their inputs synchronously, so it can
  // be rewritten for every block. Its first 4 bytes are the seq, which is also the AAD.
  const ivScratch = Buffer.alloc(16);
  ivScratch.set(fileIv, 4);
  const aadScratch = ivScratch.subarray(0, 4);
  function nonce(seq: number, byteOrder: ByteOrder): Buffer {
    if (byteOrder === 'le') ivScratch.writeUInt32LE(seq, 0);
    else ivScratch.writeUInt32BE(seq, 0);
    return ivScratch;
  }

  function encryptIntoSync(
    seq: number,
    plaintext: Uint8Array,
    target: Uint8Array,
    offset: number,
    byteOrder: ByteOrder = 'be',
  ): void {
    checkSeq(seq);
    const cipher = createCipheriv('aes-256-gcm', keyObject, nonce(seq, byteOrder));
    cipher.setAAD(aadScratch);
    const body = cipher.update(plaintext);
    target.set(body, offset);
    const tail = cipher.final();
    if (tail.length > 0) target.set(tail, offset + body.length);
    target.set(cipher.getAuthTag(), offset + plaintext.length);
  }

  function encryptSync(
    seq: number,
    plaintext: Uint8Array,
    byteOrder: ByteOrder = 'be',
  ): Uint8Array {
    const out = new Uint8Array(plaintext.length + GCM_TAG_SIZE);
    encryptIntoSync(seq, plaintext, out, 0, byteOrder);
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
    const decipher = createDecipheriv('aes-256-gcm', keyObject, nonce(seq, byteOrder));
    decipher.setAAD(aadScratch);
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

  const sync: SyncBlockCipher = {
    encrypt: encryptSync,
    decrypt: decryptSync,
    encryptInto: encryptIntoSync,
    allocate(length) {
      // A plain Uint8Array over pooled memory: Buffer's own slice() would not copy.
      const b = Buffer.allocUnsafe(length);
      return new Uint8Array(b.buffer, b.byteOffset, length);
    },
  };
  return {
    backend: 'node',
    sync,
    encrypt: async (seq, plaintext, byteOrder) => encryptSync(seq, plaintext, byteOrder),
    decrypt: async (seq, ciphertext, byteOrder) => decryptSync(seq, ciphertext, byteOrder),
  };
}
