/**
 * The WebCrypto BlockCipher (the core, used in browsers): AES-GCM with a 128-bit IV and the seq
 * as additional data (docs/format.md). WebCrypto returns ciphertext ‖ tag, the MSC4016 layout.
 */
import type { BlockCipher } from './block-cipher.ts';
import { blockAad, blockIv, checkSeq } from './block-nonce.ts';
import type { ByteOrder } from './format-constants.ts';
import { FormatError } from './format-error.ts';

export async function createWebCryptoBlockCipher(
  key: Uint8Array,
  fileIv: Uint8Array,
): Promise<BlockCipher> {
  const subtle = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  if (!subtle)
    throw new FormatError('BAD_ARGUMENT', 'WebCrypto (crypto.subtle) is not available here');
  const cryptoKey = await subtle.importKey('raw', key as BufferSource, { name: 'AES-GCM' }, false, [
    'encrypt',
    'decrypt',
  ]);
  const params = (seq: number, byteOrder: ByteOrder): AesGcmParams => ({
    name: 'AES-GCM',
    iv: blockIv(seq, fileIv, byteOrder) as BufferSource,
    additionalData: blockAad(seq, byteOrder) as BufferSource,
    tagLength: 128,
  });
  return {
    backend: 'webcrypto',
    // WebCrypto has no synchronous form (SubtleCrypto returns promises only).
    sync: null,
    async encrypt(seq, plaintext, byteOrder = 'be') {
      checkSeq(seq);
      return new Uint8Array(
        await subtle.encrypt(params(seq, byteOrder), cryptoKey, plaintext as BufferSource),
      );
    },
    async decrypt(seq, ciphertext, byteOrder = 'be') {
      checkSeq(seq);
      try {
        return new Uint8Array(
          await subtle.decrypt(params(seq, byteOrder), cryptoKey, ciphertext as BufferSource),
        );
      } catch (err) {
        throw new FormatError(
          'AUTH_FAILED',
          `block ${seq}: GCM tag does not verify (wrong key, or block altered)`,
          {
            seq,
            cause: err,
          },
        );
      }
    },
  };
}
