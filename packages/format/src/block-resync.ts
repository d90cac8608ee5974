/**
 * Resync (MSC4016: the registration code "to let a parser handle random access"): from any byte
 * offset, find the next true block boundary. A candidate needs FF FF FF FF, a plausible length,
 * and then either a matching CRC (big-endian streams) or, for legacy little-endian streams whose
 * CRC is 0, the next header exactly where `len` says (with seq + 1), or the end of the data.
 * So FF FF FF FF occurring inside ciphertext does not fool it (chance of a false match ~2^-32).
 */
import { computeBlockCrc, parseBlockHeader, type BlockHeader } from './block-header.ts';
import {
  BLOCK_HEADER_SIZE,
  DEFAULT_MAX_BLOCK_LENGTH,
  MIN_BLOCK_LENGTH,
  REGISTRATION_CODE,
  type ByteOrder,
} from './format-constants.ts';

export interface ResyncOptions {
  /** Known byte order of the stream; default: accept either form. */
  byteOrder?: ByteOrder;
  /** Largest plausible `len` (default 1 MiB, as the reader's limit). */
  maxBlockLength?: number;
}

export interface BlockBoundary {
  /** Index in `bytes` of the block's header. */
  offset: number;
  header: BlockHeader;
  byteOrder: ByteOrder;
}

/**
 * The first confirmed block boundary at or after `from` in `bytes`, or null. A candidate whose
 * block is not complete inside `bytes` cannot be confirmed and is skipped: a caller holding a
 * partial buffer should append more bytes and search again from the same `from`.
 */
export function findBlockBoundary(
  bytes: Uint8Array,
  from: number,
  options: ResyncOptions = {},
): BlockBoundary | null {
  const max = options.maxBlockLength ?? DEFAULT_MAX_BLOCK_LENGTH;
  const last = bytes.length - BLOCK_HEADER_SIZE;
  for (let i = Math.max(0, from); i <= last; i++) {
    // Cheap pre-filter: four 0xFF bytes in a row.
    if (
      bytes[i] !== 0xff ||
      bytes[i + 1] !== 0xff ||
      bytes[i + 2] !== 0xff ||
      bytes[i + 3] !== 0xff
    ) {
      continue;
    }
    const found = confirm(bytes, i, max, options.byteOrder);
    if (found) return found;
  }
  return null;
}

function plausible(header: BlockHeader, max: number): boolean {
  return (
    header.registration === REGISTRATION_CODE &&
    header.length >= MIN_BLOCK_LENGTH &&
    header.length <= max
  );
}

function confirm(
  bytes: Uint8Array,
  at: number,
  max: number,
  order: ByteOrder | undefined,
): BlockBoundary | null {
  // The crc field is 0 in both byte orders or in neither, so it picks the form to try.
  const zeroCrc =
    bytes[at + 12] === 0 && bytes[at + 13] === 0 && bytes[at + 14] === 0 && bytes[at + 15] === 0;
  const tryOrder: ByteOrder = order ?? (zeroCrc ? 'le' : 'be');
  const header = parseBlockHeader(bytes, at, tryOrder);
  if (!plausible(header, max)) return null;
  const end = at + BLOCK_HEADER_SIZE + header.length;
  if (end > bytes.length) return null;
  if (!zeroCrc) {
    const ok = computeBlockCrc(bytes.subarray(at, end)) === header.crc;
    return ok ? { offset: at, header, byteOrder: tryOrder } : null;
  }
  // A zero CRC is acceptable only in the legacy little-endian form (docs/format.md).
  if (tryOrder !== 'le') return null;
  if (end === bytes.length) return { offset: at, header, byteOrder: 'le' };
  if (end + BLOCK_HEADER_SIZE > bytes.length) return null;
  const next = parseBlockHeader(bytes, end, 'le');
  const chained = plausible(next, max) && next.seq === header.seq + 1 && next.crc === 0;
  return chained ? { offset: at, header, byteOrder: 'le' } : null;
}
