/**
 * The one error class of the Ogg layer (RFC 3533 pages, RFC 7845 Ogg Opus headers).
 * Each `code` is listed here and in docs/audio.md; messages carry the actual values.
 */

export type OggErrorCode =
  /** A page does not start with the capture pattern "OggS" (RFC 3533 §6). */
  | 'BAD_CAPTURE_PATTERN'
  /** stream_structure_version is not 0 (RFC 3533 §6). */
  | 'BAD_VERSION'
  /** The page's CRC-32 (poly 0x04c11db7, RFC 3533 §6) does not match its bytes. */
  | 'BAD_CRC'
  /** The input ended inside a page. */
  | 'TRUNCATED'
  /** parseOggPage was given bytes after the end of the one page. */
  | 'TRAILING_BYTES'
  /** A page's body is over the reader's `maxPageBodySize` option, or a packet over 255 segments' room. */
  | 'PAGE_TOO_LARGE'
  /** The reader skipped more than `maxResyncBytes` looking for "OggS". */
  | 'RESYNC_LIMIT'
  /** A page's serial number is not the one the reader was told to expect. */
  | 'SERIAL_MISMATCH'
  /** Page sequence numbers did not increase by one (reader option `checkPageSeq`). */
  | 'PAGE_SEQ_GAP'
  /** An OpusHead packet is malformed (RFC 7845 §5.1). */
  | 'BAD_OPUS_HEAD'
  /** An OpusTags packet is malformed (RFC 7845 §5.2). */
  | 'BAD_OPUS_TAGS'
  /** An Opus packet's TOC/frame count is invalid (RFC 6716 §3.1–§3.2). */
  | 'BAD_OPUS_PACKET'
  /** A granule position would be invalid (RFC 7845 §4): negative, or an end trim too large. */
  | 'BAD_GRANULE'
  /** A caller passed an invalid argument (channels, serial, page after EOS, …). */
  | 'BAD_ARGUMENT';

export class OggError extends Error {
  override readonly name = 'OggError';
  readonly code: OggErrorCode;
  /** Absolute byte offset in the input where the problem was found, when known. */
  readonly offset: number | undefined;

  constructor(
    code: OggErrorCode,
    message: string,
    details: { offset?: number; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.offset = details.offset;
  }
}

export function isOggError(err: unknown, code?: OggErrorCode): err is OggError {
  return err instanceof OggError && (code === undefined || err.code === code);
}
