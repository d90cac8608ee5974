/**
 * Per-block GCM inputs of MSC4016 v3 (docs/format.md): IV = seq(4) ‖ file.iv(12), a 128-bit IV
 * that GCM hashes down itself (NIST SP 800-38D §7.1, GHASH of IVs that are not 96 bits), and
 * AAD = seq(4). Both use the stream's byte order: big-endian, or little-endian for legacy streams.
 */
import { FILE_IV_SIZE, MAX_SEQ, type ByteOrder } from './format-constants.ts';
import { FormatError } from './format-error.ts';

export function checkSeq(seq: number): void {
  if (!Number.isInteger(seq) || seq < 0 || seq > MAX_SEQ) {
    throw new FormatError('BAD_ARGUMENT', `seq ${seq} is not an integer in 0..${MAX_SEQ}`, { seq });
  }
}

/** The 16-byte GCM IV of block `seq`. */
export function blockIv(seq: number, fileIv: Uint8Array, byteOrder: ByteOrder): Uint8Array {
  const iv = new Uint8Array(4 + FILE_IV_SIZE);
  new DataView(iv.buffer).setUint32(0, seq, byteOrder === 'le');
  iv.set(fileIv, 4);
  return iv;
}

/** The 4-byte additional authenticated data of block `seq`. */
export function blockAad(seq: number, byteOrder: ByteOrder): Uint8Array {
  const aad = new Uint8Array(4);
  new DataView(aad.buffer).setUint32(0, seq, byteOrder === 'le');
  return aad;
}
