/**
 * MSC4016 v3 blocks for the benchmark, as DESIGN.md §2 fixes them: big-endian
 * reg ‖ seq ‖ len ‖ crc ‖ ct, the CRC (zlib's CRC-32) over reg ‖ seq ‖ len ‖ ct, and ct a real
 * AES-256-GCM encryption of the block's Ogg page under a random key (IV = seq ‖ file IV,
 * AAD = seq). The relay checks only the framing, but real ciphertext keeps the bench honest.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const MXC_MAGIC = Uint8Array.of(0x4d, 0x58, 0x43, 0x03);
export const BLOCK_HEADER_BYTES = 16;

export class BenchBlockCipher {
  readonly #key = randomBytes(32);
  readonly #fileIv = randomBytes(12);

  /** Header + ciphertext + tag of block `seq` holding `plaintext`. */
  block(seq: number, plaintext: Uint8Array): Uint8Array {
    const seqBytes = Buffer.alloc(4);
    seqBytes.writeUInt32BE(seq);
    const cipher = createCipheriv(
      'aes-256-gcm',
      this.#key,
      Buffer.concat([seqBytes, this.#fileIv]),
    );
    cipher.setAAD(seqBytes);
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    const block = Buffer.alloc(BLOCK_HEADER_BYTES + ct.length);
    block.writeUInt32BE(0xffffffff, 0);
    block.writeUInt32BE(seq, 4);
    block.writeUInt32BE(ct.length, 8);
    ct.copy(block, BLOCK_HEADER_BYTES);
    const crc = crc32(ct, crc32(block.subarray(0, 12)));
    block.writeUInt32BE(crc, 12);
    return block;
  }
}
