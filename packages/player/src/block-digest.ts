/**
 * SHA-256 of a block's ciphertext with its GCM tag (the bytes after the 16-byte header,
 * docs/format.md): what a broadcaster's checkpoints hash per block (docs/matrix.md "Checkpoints
 * and completion"). The player hands out this digest, never the block's bytes, so a verifier
 * keeps 32 bytes per block. WebCrypto: the player's core runs in browsers and Node alike.
 */
export async function blockDigest(ciphertext: Uint8Array): Promise<Uint8Array> {
  const subtle = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  if (!subtle) throw new Error('WebCrypto (crypto.subtle) is not available here');
  return new Uint8Array(await subtle.digest('SHA-256', ciphertext as BufferSource));
}
