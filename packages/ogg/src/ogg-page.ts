/**
 * One Ogg page (RFC 3533 §6): writing, and parsing from bytes that hold exactly one page.
 *
 *   0  "OggS"            capture pattern
 *   4  version (0)       stream_structure_version
 *   5  header_type       CONTINUED=1, BOS=2, EOS=4
 *   6  granule (i64 LE)  -1 when no packet ends on the page
 *  14  serial (u32 LE)
 *  18  page seq (u32 LE)
 *  22  CRC (u32 LE)      over the whole page with this field zeroed (see ogg-crc.ts)
 *  26  page_segments     number of lacing values, 0..255
 *  27  lacing values     a packet is a run of 255s ended by a value < 255
 *      body              the segments, back to back
 */

import { oggCrc } from './ogg-crc.ts';
import { OggError } from './ogg-error.ts';

/** header_type flags (RFC 3533 §6). */
export const OggFlag = { CONTINUED: 1, BOS: 2, EOS: 4 } as const;

export const OGG_HEADER_SIZE = 27;
export const OGG_MAX_SEGMENTS = 255;
/** The largest page RFC 3533 allows: 27 + 255 lacing values + 255 × 255 body bytes. */
export const OGG_MAX_PAGE_SIZE = OGG_HEADER_SIZE + OGG_MAX_SEGMENTS + OGG_MAX_SEGMENTS * 255;

const CAPTURE = [0x4f, 0x67, 0x67, 0x53]; // "OggS"
const ZERO_CRC = new Uint8Array(4);

export interface OggPage {
  /** header_type: a combination of OggFlag values. */
  flags: number;
  /** Granule position; -1n means no packet ends on this page (RFC 3533 §6). */
  granule: bigint;
  serial: number;
  pageSeq: number;
  /**
   * The page's packets as the lacing values group them. With OggFlag.CONTINUED the first one is
   * the tail of a packet begun on an earlier page; with `incomplete` the last one continues on
   * the next page. Parsed packets are views into the input (no copy).
   */
  packets: Uint8Array[];
  /** The last packet continues on the next page (its lacing ends in 255). */
  incomplete?: boolean;
}

/** A parsed page plus where its bytes are. */
export interface ParsedOggPage extends OggPage {
  /** The page's whole bytes (a view into the input). */
  bytes: Uint8Array;
}

/** Lacing values for a page's packets (RFC 3533 §5). */
function lacingFor(page: OggPage): number[] {
  const lacing: number[] = [];
  page.packets.forEach((packet, i) => {
    const last = i === page.packets.length - 1;
    const open = last && page.incomplete === true;
    if (open && (packet.length === 0 || packet.length % 255 !== 0)) {
      throw new OggError(
        'BAD_ARGUMENT',
        `an incomplete last packet must fill whole 255-byte segments; it has ${packet.length} bytes`,
      );
    }
    let left = packet.length;
    while (left >= 255) {
      lacing.push(255);
      left -= 255;
    }
    if (!open) lacing.push(left);
  });
  return lacing;
}

/** Serialises one page, computing lacing values and the CRC. */
export function writeOggPage(page: OggPage): Uint8Array {
  if (!Number.isInteger(page.serial) || page.serial < 0 || page.serial > 0xffffffff) {
    throw new OggError('BAD_ARGUMENT', `serial ${page.serial} is not a u32`);
  }
  if (!Number.isInteger(page.pageSeq) || page.pageSeq < 0 || page.pageSeq > 0xffffffff) {
    throw new OggError('BAD_ARGUMENT', `page sequence ${page.pageSeq} is not a u32`);
  }
  if (!Number.isInteger(page.flags) || page.flags < 0 || page.flags > 7) {
    throw new OggError('BAD_ARGUMENT', `header_type ${page.flags} has bits other than 1|2|4`);
  }
  const lacing = lacingFor(page);
  if (lacing.length > OGG_MAX_SEGMENTS) {
    throw new OggError(
      'PAGE_TOO_LARGE',
      `the packets need ${lacing.length} lacing values; a page holds at most ${OGG_MAX_SEGMENTS}`,
    );
  }
  let bodySize = 0;
  for (const p of page.packets) bodySize += p.length;
  const headerSize = OGG_HEADER_SIZE + lacing.length;
  const out = new Uint8Array(headerSize + bodySize);
  const view = new DataView(out.buffer);
  out.set(CAPTURE, 0);
  out[4] = 0;
  out[5] = page.flags;
  view.setBigInt64(6, BigInt.asIntN(64, page.granule), true);
  view.setUint32(14, page.serial, true);
  view.setUint32(18, page.pageSeq, true);
  out[26] = lacing.length;
  out.set(lacing, OGG_HEADER_SIZE);
  let at = headerSize;
  for (const p of page.packets) {
    out.set(p, at);
    at += p.length;
  }
  view.setUint32(22, oggCrc(out), true);
  return out;
}

export interface PageParseOptions {
  /** Check each page's CRC (default true). */
  verifyCrc?: boolean;
  /** Largest body (sum of lacing values) accepted; default and maximum 65025. */
  maxPageBodySize?: number;
}

/** Throws BAD_CAPTURE_PATTERN if the bytes available at `offset` cannot start "OggS". */
export function checkCapturePattern(bytes: Uint8Array, offset: number, absolute = offset): void {
  const n = Math.min(4, bytes.length - offset);
  for (let i = 0; i < n; i++) {
    if (bytes[offset + i] !== CAPTURE[i]) {
      throw new OggError(
        'BAD_CAPTURE_PATTERN',
        `no "OggS" capture pattern at byte ${absolute} (found 0x${hex(bytes.subarray(offset, offset + n))})`,
        { offset: absolute },
      );
    }
  }
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** The size of the page starting at `offset`, or null when fewer bytes than its header are there. */
export function pageSizeAt(bytes: Uint8Array, offset: number): number | null {
  if (bytes.length - offset < OGG_HEADER_SIZE) return null;
  const segments = bytes[offset + 26] as number;
  if (bytes.length - offset < OGG_HEADER_SIZE + segments) return null;
  let size = OGG_HEADER_SIZE + segments;
  for (let i = 0; i < segments; i++) size += bytes[offset + OGG_HEADER_SIZE + i] as number;
  return size;
}

/**
 * Parses the page starting at `offset`. Returns null when the page is not complete yet (more
 * bytes are needed). `absolute` is the offset reported in errors. Packets are views, not copies.
 */
export function parsePageAt(
  bytes: Uint8Array,
  offset: number,
  options: PageParseOptions = {},
  absolute = offset,
): ParsedOggPage | null {
  checkCapturePattern(bytes, offset, absolute);
  if (bytes.length - offset < OGG_HEADER_SIZE) return null;
  const version = bytes[offset + 4] as number;
  if (version !== 0) {
    throw new OggError(
      'BAD_VERSION',
      `Ogg stream_structure_version ${version} at byte ${absolute}; only 0 exists`,
      {
        offset: absolute,
      },
    );
  }
  const flags = bytes[offset + 5] as number;
  const segments = bytes[offset + 26] as number;
  const headerSize = OGG_HEADER_SIZE + segments;
  if (bytes.length - offset < headerSize) return null;
  let bodySize = 0;
  for (let i = 0; i < segments; i++) bodySize += bytes[offset + OGG_HEADER_SIZE + i] as number;
  const maxBody = options.maxPageBodySize ?? 255 * 255;
  if (bodySize > maxBody) {
    throw new OggError(
      'PAGE_TOO_LARGE',
      `page at byte ${absolute} has a ${bodySize}-byte body; the limit is ${maxBody}`,
      { offset: absolute },
    );
  }
  const size = headerSize + bodySize;
  if (bytes.length - offset < size) return null;
  const page = bytes.subarray(offset, offset + size);
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const stored = view.getUint32(22, true);
  if (options.verifyCrc !== false) {
    let crc = oggCrc(page.subarray(0, 22));
    crc = oggCrc(ZERO_CRC, crc);
    crc = oggCrc(page.subarray(26), crc);
    if (crc !== stored) {
      throw new OggError(
        'BAD_CRC',
        `page at byte ${absolute} has CRC 0x${stored.toString(16).padStart(8, '0')}, its bytes give 0x${crc.toString(16).padStart(8, '0')}`,
        { offset: absolute },
      );
    }
  }
  const packets: Uint8Array[] = [];
  let start = headerSize;
  let at = headerSize;
  let open = false;
  for (let i = 0; i < segments; i++) {
    const lace = page[OGG_HEADER_SIZE + i] as number;
    at += lace;
    open = lace === 255;
    if (!open) {
      packets.push(page.subarray(start, at));
      start = at;
    }
  }
  if (open) packets.push(page.subarray(start, at));
  const parsed: ParsedOggPage = {
    flags,
    granule: view.getBigInt64(6, true),
    serial: view.getUint32(14, true),
    pageSeq: view.getUint32(18, true),
    packets,
    bytes: page,
  };
  if (open) parsed.incomplete = true;
  return parsed;
}

/** Parses bytes that hold exactly one page; throws TRUNCATED / TRAILING_BYTES otherwise. */
export function parseOggPage(bytes: Uint8Array, options: PageParseOptions = {}): ParsedOggPage {
  const page = parsePageAt(bytes, 0, options);
  if (page === null) {
    const need = pageSizeAt(bytes, 0);
    throw new OggError(
      'TRUNCATED',
      `an Ogg page needs ${need ?? `at least ${OGG_HEADER_SIZE}`} bytes; got ${bytes.length}`,
      { offset: bytes.length },
    );
  }
  if (page.bytes.length !== bytes.length) {
    throw new OggError(
      'TRAILING_BYTES',
      `${bytes.length - page.bytes.length} bytes follow the ${page.bytes.length}-byte Ogg page`,
      { offset: page.bytes.length },
    );
  }
  return page;
}
