/**
 * The one error class of @mxcast/capture. Each code maps to the exit code `mxcast capture`
 * returns (docs/capture.md "Exit codes"), so scripts can tell a refused token from a dead relay.
 */
export type CaptureErrorCode =
  /** A bad option or input (unknown preset, unreadable WAV, unsupported rate, no recorder). */
  | 'BAD_INPUT'
  /** The relay could not be reached (or stayed unreachable longer than the outage limit). */
  | 'UNREACHABLE'
  /** The relay refused the access token or the operation (401/403). */
  | 'REFUSED'
  /** The relay is full or a limit was hit (413 M_TOO_LARGE, 429 M_LIMIT_EXCEEDED). */
  | 'RELAY_FULL'
  /** The relay answered something the capture cannot continue from (bad block, lost data). */
  | 'RELAY_ERROR'
  /** The state file is unreadable, tampered with, or the passphrase is wrong. */
  | 'BAD_STATE'
  /** The broadcast was cancelled (second Ctrl-C, or DELETE by someone else). */
  | 'CANCELLED';

export const EXIT_CODES: Record<CaptureErrorCode, number> = {
  BAD_INPUT: 2,
  UNREACHABLE: 3,
  REFUSED: 4,
  RELAY_FULL: 5,
  RELAY_ERROR: 6,
  BAD_STATE: 7,
  CANCELLED: 130,
};

export class CaptureError extends Error {
  constructor(
    readonly code: CaptureErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CaptureError';
  }

  get exitCode(): number {
    return EXIT_CODES[this.code];
  }
}

/** Maps a client error (Matrix errcode or M_NETWORK) to the capture's code, keeping its message. */
export function captureErrorFrom(err: unknown, context: string): CaptureError {
  if (err instanceof CaptureError) return err;
  const e = err as { code?: string; message?: string; status?: number };
  const message = `${context}: ${e?.message ?? String(err)}`;
  switch (e?.code) {
    case 'M_NETWORK':
      return new CaptureError('UNREACHABLE', message, { cause: err });
    case 'M_MISSING_TOKEN':
    case 'M_UNKNOWN_TOKEN':
    case 'M_FORBIDDEN':
      return new CaptureError('REFUSED', message, { cause: err });
    case 'M_TOO_LARGE':
    case 'M_LIMIT_EXCEEDED':
      return new CaptureError('RELAY_FULL', message, { cause: err });
    case 'M_BAD_ARGUMENT':
      return new CaptureError('BAD_INPUT', message, { cause: err });
    default:
      return new CaptureError('RELAY_ERROR', message, { cause: err });
  }
}
