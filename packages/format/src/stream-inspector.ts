/**
 * A key-less, forgiving walk over a whole MXC v3 stream for diagnosis (`mxcast inspect`): unlike
 * BlockFramer it does not stop at the first fault; it reports each block's header and CRC, and
 * resyncs (findBlockBoundary) past anything that is not a valid block.
 */
import { computeBlockCrc, detectByteOrder, parseBlockHeader } from './block-header.ts';
import { findBlockBoundary } from './block-resync.ts';
import {
  BLOCK_HEADER_SIZE,
  DEFAULT_MAX_BLOCK_LENGTH,
  FORMAT_VERSION,
  MAGIC,
  MAGIC_SIZE,
  MIN_BLOCK_LENGTH,
  REGISTRATION_CODE,
  type ByteOrder,
} from './format-constants.ts';

export interface InspectedBlock {
  offset: number;
  seq: number;
  length: number;
  crc: number;
  /** CRC matches (or is the legacy zero CRC of a little-endian stream). */
  crcOk: boolean;
  /** seq is the previous good block's + 1 (or 0 right after the magic). */
  seqOk: boolean;
}

export interface ResyncPoint {
  /** Where the walk stopped trusting the bytes. */
  from: number;
  /** The next confirmed block boundary, or null when none was found before the end. */
  to: number | null;
  skipped: number;
  reason: string;
}

export interface StreamReport {
  size: number;
  magic: 'ok' | 'bad' | 'unsupported-version' | 'missing';
  /** Version byte when the magic starts with "MXC". */
  version?: number;
  byteOrder?: ByteOrder;
  blocks: InspectedBlock[];
  resyncs: ResyncPoint[];
  /** The stream ends inside a block: where it starts, and how many bytes it needed. */
  truncated?: { offset: number; have: number; need: number };
  /** Everything checked out: magic, CRCs, seqs, no resync, no truncation. */
  ok: boolean;
}

export function inspectStream(
  bytes: Uint8Array,
  options: { maxBlockLength?: number } = {},
): StreamReport {
  const max = options.maxBlockLength ?? DEFAULT_MAX_BLOCK_LENGTH;
  const report: StreamReport = {
    size: bytes.length,
    magic: 'missing',
    blocks: [],
    resyncs: [],
    ok: false,
  };
  let p = 0;
  let expectedSeq: number | undefined;
  if (bytes.length >= MAGIC_SIZE) {
    const mxc = bytes[0] === MAGIC[0] && bytes[1] === MAGIC[1] && bytes[2] === MAGIC[2];
    if (mxc) report.version = bytes[3] as number;
    report.magic = !mxc ? 'bad' : bytes[3] === FORMAT_VERSION ? 'ok' : 'unsupported-version';
    if (mxc) p = MAGIC_SIZE;
    if (report.magic === 'ok') expectedSeq = 0;
  }
  let order: ByteOrder | undefined;

  const resync = (from: number, reason: string) => {
    const found = findBlockBoundary(
      bytes,
      from + 1,
      order ? { byteOrder: order, maxBlockLength: max } : { maxBlockLength: max },
    );
    const to = found ? found.offset : null;
    report.resyncs.push({ from, to, skipped: (to ?? bytes.length) - from, reason });
    if (found) order ??= found.byteOrder;
    expectedSeq = undefined;
    return to;
  };

  while (p < bytes.length) {
    if (bytes.length - p < BLOCK_HEADER_SIZE) {
      report.truncated = { offset: p, have: bytes.length - p, need: BLOCK_HEADER_SIZE };
      break;
    }
    const h = parseBlockHeader(bytes, p, order ?? detectByteOrder(bytes, p));
    if (h.registration !== REGISTRATION_CODE || h.length < MIN_BLOCK_LENGTH || h.length > max) {
      const why =
        h.registration !== REGISTRATION_CODE
          ? 'no registration code'
          : `implausible length ${h.length}`;
      const to = resync(p, why);
      if (to === null) break;
      p = to;
      continue;
    }
    const end = p + BLOCK_HEADER_SIZE + h.length;
    if (end > bytes.length) {
      // A real block cut short, or a false header: say both, and look for a later real block.
      const to = findBlockBoundary(
        bytes,
        p + 1,
        order ? { byteOrder: order, maxBlockLength: max } : { maxBlockLength: max },
      );
      if (to === null) {
        report.truncated = { offset: p, have: bytes.length - p, need: end - p };
        break;
      }
      p = resync(p, `length ${h.length} runs past the end`) as number;
      continue;
    }
    const actual = computeBlockCrc(bytes.subarray(p, end));
    const crcOk = h.crc === actual || (h.byteOrder === 'le' && h.crc === 0);
    const seqOk = expectedSeq === undefined || h.seq === expectedSeq;
    report.blocks.push({ offset: p, seq: h.seq, length: h.length, crc: h.crc, crcOk, seqOk });
    if (crcOk) {
      order ??= h.byteOrder;
      expectedSeq = h.seq + 1;
      p = end;
      continue;
    }
    const to = resync(
      p,
      `CRC 0x${h.crc.toString(16).padStart(8, '0')} != computed 0x${actual.toString(16).padStart(8, '0')}`,
    );
    if (to === null) break;
    p = to;
  }
  if (order) report.byteOrder = order;
  report.ok =
    report.magic === 'ok' &&
    report.resyncs.length === 0 &&
    report.truncated === undefined &&
    report.blocks.every((b) => b.crcOk && b.seqOk);
  return report;
}
