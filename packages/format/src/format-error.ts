/**
 * The one error class of the format layer. Each `code` is documented in docs/format.md; how the
 * player and the CLI report each one is in docs/errors.md.
 */

/** Every format code with a one-line meaning: the one table the FormatErrorCode type derives from. */
export const FORMAT_ERROR_CODES = {
  /** The stream does not start with the 4-byte magic 4D 58 43 03. */
  BAD_MAGIC: 'not an MXC stream (bad magic)',
  /** The magic says "MXC" but a version other than 0x03. */
  UNSUPPORTED_VERSION: 'an MXC version other than 3',
  /** A block header does not start with the registration code FF FF FF FF. */
  BAD_REGISTRATION: 'a block header without the registration code',
  /** The header's CRC-32 does not match reg‖seq‖len‖ct (or is non-zero-and-wrong in legacy mode). */
  BAD_CRC: 'a block header CRC that does not match',
  /** `len` is over the reader's maxBlockLength. */
  LENGTH_OVER_LIMIT: 'a block longer than the reader allows',
  /** `len` is under 16, the size of the GCM tag alone. */
  LENGTH_UNDER_MIN: 'a block shorter than its GCM tag',
  /** `seq` is not the one expected (gap, duplicate, reordering). */
  SEQ_GAP: 'a seq that does not follow',
  /** The GCM tag does not verify: wrong key, tampered block, block from another stream. */
  AUTH_FAILED: 'a GCM tag that does not verify',
  /** The input ended inside the magic or a block. */
  TRUNCATED: 'the input ended inside a block',
  /** EncryptedFile JSON is malformed or of another version. */
  BAD_ENCRYPTED_FILE: 'a malformed EncryptedFile',
  /** A writer would have to use a seq past MAX_SEQ (IV reuse). */
  SEQ_EXHAUSTED: 'the seq would wrap (IV reuse)',
  /**
   * A key schedule that is not valid: no epoch at seq 0, startSeq not strictly increasing, a
   * malformed or reused key/IV, or an epoch starting at a block already sealed (docs/format.md
   * "Key epochs").
   */
  BAD_KEY_SCHEDULE: 'an invalid key schedule',
  /** A caller passed an invalid argument (e.g. a seq outside 0..MAX_SEQ). */
  BAD_ARGUMENT: 'an invalid argument',
} as const;

export type FormatErrorCode = keyof typeof FORMAT_ERROR_CODES;

export class FormatError extends Error {
  override readonly name = 'FormatError';
  readonly code: FormatErrorCode;
  /** The block concerned, when known. */
  readonly seq: number | undefined;
  /** Absolute byte offset in the stream where the problem was found, when known. */
  readonly offset: number | undefined;

  constructor(
    code: FormatErrorCode,
    message: string,
    details: { seq?: number | undefined; offset?: number | undefined; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.seq = details.seq;
    this.offset = details.offset;
  }
}

export function isFormatError(err: unknown, code?: FormatErrorCode): err is FormatError {
  return err instanceof FormatError && (code === undefined || err.code === code);
}
