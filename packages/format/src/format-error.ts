/**
 * The one error class of the format layer. Each `code` is documented in docs/format.md.
 */

export type FormatErrorCode =
  /** The stream does not start with the 4-byte magic 4D 58 43 03. */
  | 'BAD_MAGIC'
  /** The magic says "MXC" but a version other than 0x03. */
  | 'UNSUPPORTED_VERSION'
  /** A block header does not start with the registration code FF FF FF FF. */
  | 'BAD_REGISTRATION'
  /** The header's CRC-32 does not match reg‖seq‖len‖ct (or is non-zero-and-wrong in legacy mode). */
  | 'BAD_CRC'
  /** `len` is over the reader's maxBlockLength. */
  | 'LENGTH_OVER_LIMIT'
  /** `len` is under 16, the size of the GCM tag alone. */
  | 'LENGTH_UNDER_MIN'
  /** `seq` is not the one expected (gap, duplicate, reordering). */
  | 'SEQ_GAP'
  /** The GCM tag does not verify: wrong key, tampered block, block from another stream. */
  | 'AUTH_FAILED'
  /** The input ended inside the magic or a block. */
  | 'TRUNCATED'
  /** EncryptedFile JSON is malformed or of another version. */
  | 'BAD_ENCRYPTED_FILE'
  /** A writer would have to use a seq past MAX_SEQ (IV reuse). */
  | 'SEQ_EXHAUSTED'
  /** A caller passed an invalid argument (e.g. a seq outside 0..MAX_SEQ). */
  | 'BAD_ARGUMENT';

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
