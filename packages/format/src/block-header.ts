/**
 * The 16-byte block header of MSC4016 v3: reg ‖ seq ‖ len ‖ crc, unsigned 32-bit each.
 * docs/format.md: written big-endian; the legacy experimental writer wrote seq and len
 * little-endian and crc = 0 (the registration code reads the same either way).
 */
import { checkSeq } from './block-nonce.ts';
import { crc32, crc32Portable } from './crc32.ts';
import {
  BLOCK_HEADER_SIZE,
  MIN_BLOCK_LENGTH,
  REGISTRATION_CODE,
  type ByteOrder,
} from './format-constants.ts';
import { FormatError } from './format-error.ts';

export interface BlockHeader {
  /** Should be REGISTRATION_CODE; parseBlockHeader does not judge. */
  registration: number;
  seq: number;
  /** Byte length of ciphertext plus tag that follows the header. */
  length: number;
  crc: number;
  byteOrder: ByteOrder;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Reads the header at `offset` as it is, without validating it. Needs 16 bytes there. */
export function parseBlockHeader(
  bytes: Uint8Array,
  offset: number,
  byteOrder: ByteOrder,
): BlockHeader {
  if (offset < 0 || offset + BLOCK_HEADER_SIZE > bytes.length) {
    throw new FormatError(
      'TRUNCATED',
      `block header needs ${BLOCK_HEADER_SIZE} bytes at ${offset}, have ${Math.max(0, bytes.length - offset)}`,
      { offset },
    );
  }
  const read = byteOrder === 'le' ? readLe : readBe;
  return {
    registration: read(bytes, offset),
    seq: read(bytes, offset + 4),
    length: read(bytes, offset + 8),
    crc: read(bytes, offset + 12),
    byteOrder,
  };
}

// Plain byte reads: cheaper per header than a DataView on the per-block hot path.
function readBe(b: Uint8Array, at: number): number {
  return (
    (((b[at] as number) << 24) |
      ((b[at + 1] as number) << 16) |
      ((b[at + 2] as number) << 8) |
      (b[at + 3] as number)) >>>
    0
  );
}

function readLe(b: Uint8Array, at: number): number {
  return (
    (((b[at + 3] as number) << 24) |
      ((b[at + 2] as number) << 16) |
      ((b[at + 1] as number) << 8) |
      (b[at] as number)) >>>
    0
  );
}

/** Writes a header into `target` at `offset` (16 bytes). */
export function writeBlockHeader(
  target: Uint8Array,
  offset: number,
  header: { seq: number; length: number; crc: number },
  byteOrder: ByteOrder = 'be',
): void {
  const dv = view(target);
  const le = byteOrder === 'le';
  dv.setUint32(offset, REGISTRATION_CODE, le);
  dv.setUint32(offset + 4, header.seq, le);
  dv.setUint32(offset + 8, header.length, le);
  dv.setUint32(offset + 12, header.crc, le);
}

/**
 * CRC-32 of a block as MSC4016 v3 defines it: over reg‖seq‖len‖ct, the crc field left out.
 * `block` is the header followed by the ciphertext (at least `BLOCK_HEADER_SIZE` bytes).
 */
export function computeBlockCrc(block: Uint8Array): number {
  // 12 header bytes in JS (cheaper than a native call), the ciphertext natively where available.
  const head = crc32Portable(block.subarray(0, 12));
  return crc32(block.subarray(BLOCK_HEADER_SIZE), head);
}

/**
 * Tells the byte order from a first block header: a non-zero crc can only be this project's
 * big-endian form; crc = 0 is the legacy little-endian writer (docs/format.md).
 * A big-endian block whose true CRC happens to be 0 (chance 2^-32) would be misread; its
 * GCM tag would then fail, so this can never yield unauthenticated output.
 */
export function detectByteOrder(bytes: Uint8Array, offset: number): ByteOrder {
  return readBe(bytes, offset + 12) === 0 ? 'le' : 'be';
}

/**
 * Frames one block: big-endian header with its CRC, then the ciphertext (with tag) copied after it.
 * Writers write only this form (docs/format.md "The container").
 */
export function encodeBlock(seq: number, ciphertext: Uint8Array): Uint8Array {
  checkSeq(seq);
  checkCiphertextLength(seq, ciphertext.length);
  const block = new Uint8Array(BLOCK_HEADER_SIZE + ciphertext.length);
  block.set(ciphertext, BLOCK_HEADER_SIZE);
  return sealBlockHeader(block, seq);
}

function checkCiphertextLength(seq: number, length: number): void {
  if (length < MIN_BLOCK_LENGTH || length > 0xffffffff) {
    throw new FormatError(
      'BAD_ARGUMENT',
      `ciphertext of ${length} bytes: a block holds at least the ${MIN_BLOCK_LENGTH}-byte GCM tag`,
      { seq },
    );
  }
}

/**
 * Writes the big-endian header and its CRC in front of a ciphertext already placed at
 * `block[16..]` (the whole array is the block). Saves a copy on the Node fast path.
 */
export function sealBlockHeader(block: Uint8Array, seq: number): Uint8Array {
  checkSeq(seq);
  checkCiphertextLength(seq, block.length - BLOCK_HEADER_SIZE);
  writeBlockHeader(block, 0, { seq, length: block.length - BLOCK_HEADER_SIZE, crc: 0 });
  view(block).setUint32(12, computeBlockCrc(block));
  return block;
}
