/**
 * OggPageReader: an incremental state machine that turns arbitrary chunks of an Ogg stream
 * (RFC 3533) into pages. It stops when it needs more bytes; a page that lies wholly inside one
 * pushed chunk is returned as views into that chunk (no copy); only a page split across chunks
 * is copied once into a buffer of its own size.
 */

import { OggError } from './ogg-error.ts';
import {
  OGG_HEADER_SIZE,
  OGG_MAX_SEGMENTS,
  type ParsedOggPage,
  type PageParseOptions,
  pageSizeAt,
  parsePageAt,
} from './ogg-page.ts';

export interface OggPageReaderOptions extends PageParseOptions {
  /** Only pages of this serial number are accepted (SERIAL_MISMATCH otherwise). */
  serial?: number;
  /** Require page sequence numbers to increase by exactly one (PAGE_SEQ_GAP otherwise). */
  checkPageSeq?: boolean;
  /**
   * On a bad capture pattern or CRC, skip forward to the next "OggS" instead of throwing
   * (RFC 3533 §6: the capture pattern and CRC exist to regain sync). Default false.
   */
  resync?: boolean;
  /** With `resync`, the most bytes skipped in one go before RESYNC_LIMIT (default 65307). */
  maxResyncBytes?: number;
  /** The absolute offset of the first byte pushed, for page offsets and errors (default 0). */
  startOffset?: number;
}

export interface ReadOggPage extends ParsedOggPage {
  /** Absolute byte offset of the page in the stream. */
  offset: number;
}

export class OggPageReader {
  private readonly options: OggPageReaderOptions;
  private pending: Uint8Array[] = [];
  private pendingLength = 0;
  private offset: number;
  private lastPageSeq: number | undefined;
  private skipping = 0;
  /** Bytes skipped while resyncing, in total. */
  skippedBytes = 0;

  constructor(options: OggPageReaderOptions = {}) {
    this.options = options;
    this.offset = options.startOffset ?? 0;
  }

  /** Absolute offset of the next byte not yet consumed as part of a page. */
  get position(): number {
    return this.offset;
  }

  /** Bytes held, waiting for the rest of a page. */
  get buffered(): number {
    return this.pendingLength;
  }

  /** Feeds a chunk; returns every page that became complete. */
  push(chunk: Uint8Array): ReadOggPage[] {
    if (chunk.length > 0) {
      this.pending.push(chunk);
      this.pendingLength += chunk.length;
    }
    const pages: ReadOggPage[] = [];
    for (;;) {
      let page: ParsedOggPage | null;
      try {
        page = this.next();
      } catch (err) {
        if (
          this.options.resync === true &&
          err instanceof OggError &&
          (err.code === 'BAD_CAPTURE_PATTERN' ||
            err.code === 'BAD_CRC' ||
            err.code === 'BAD_VERSION')
        ) {
          this.skipToCapture();
          continue;
        }
        throw err;
      }
      if (page === null) break;
      const at = this.offset;
      this.consume(page.bytes.length);
      this.skipping = 0;
      this.check(page, at);
      pages.push({ ...page, offset: at });
    }
    return pages;
  }

  /** Declares the end of input: throws TRUNCATED if part of a page is left over. */
  finish(): void {
    if (this.pendingLength > 0) {
      throw new OggError(
        'TRUNCATED',
        `the stream ended ${this.pendingLength} bytes into a page starting at byte ${this.offset}`,
        { offset: this.offset + this.pendingLength },
      );
    }
  }

  /** The next complete page at the head of the pending bytes, or null. */
  private next(): ParsedOggPage | null {
    const head = this.pending[0];
    if (head === undefined) return null;
    if (this.pending.length === 1 || head.length >= OGG_HEADER_SIZE + OGG_MAX_SEGMENTS) {
      const size = pageSizeAt(head, 0);
      if (size !== null && size <= head.length)
        return parsePageAt(head, 0, this.options, this.offset);
      if (this.pending.length === 1) return parsePageAt(head, 0, this.options, this.offset);
    }
    // The page (or its header) spans chunks: look at its header, then copy it out once.
    const header = this.peek(Math.min(this.pendingLength, OGG_HEADER_SIZE + OGG_MAX_SEGMENTS));
    const size = pageSizeAt(header, 0);
    if (size === null || size > this.pendingLength)
      return parsePageAt(header, 0, this.options, this.offset);
    return parsePageAt(this.peek(size), 0, this.options, this.offset);
  }

  /** The first `n` pending bytes: a view when they lie in one chunk, else a copy. */
  private peek(n: number): Uint8Array {
    const head = this.pending[0] as Uint8Array;
    if (head.length >= n) return head.subarray(0, n);
    const out = new Uint8Array(n);
    let at = 0;
    for (const c of this.pending) {
      const take = Math.min(c.length, n - at);
      out.set(c.subarray(0, take), at);
      at += take;
      if (at === n) break;
    }
    return out;
  }

  private consume(n: number): void {
    this.offset += n;
    this.pendingLength -= n;
    while (n > 0) {
      const head = this.pending[0] as Uint8Array;
      if (head.length <= n) {
        this.pending.shift();
        n -= head.length;
      } else {
        this.pending[0] = head.subarray(n);
        n = 0;
      }
    }
  }

  /** Drops at least one byte and up to the next 'O' that could start "OggS". */
  private skipToCapture(): void {
    const limit = this.options.maxResyncBytes ?? 65307;
    const head = this.pending[0] as Uint8Array;
    const next = head.indexOf(0x4f, 1);
    const skip = next === -1 ? head.length : next;
    if (this.skipping + skip > limit) {
      throw new OggError(
        'RESYNC_LIMIT',
        `skipped ${this.skipping + skip} bytes from byte ${this.offset - this.skipping} without finding a valid page; the limit is ${limit}`,
        { offset: this.offset },
      );
    }
    this.skipping += skip;
    this.skippedBytes += skip;
    this.consume(skip);
  }

  private check(page: ParsedOggPage, at: number): void {
    const { serial, checkPageSeq } = this.options;
    if (serial !== undefined && page.serial !== serial) {
      throw new OggError(
        'SERIAL_MISMATCH',
        `page at byte ${at} has serial ${page.serial}; expected ${serial}`,
        {
          offset: at,
        },
      );
    }
    if (checkPageSeq === true) {
      if (this.lastPageSeq !== undefined && page.pageSeq !== (this.lastPageSeq + 1) >>> 0) {
        throw new OggError(
          'PAGE_SEQ_GAP',
          `page at byte ${at} has sequence ${page.pageSeq}; expected ${(this.lastPageSeq + 1) >>> 0}`,
          { offset: at },
        );
      }
      this.lastPageSeq = page.pageSeq;
    }
  }
}
