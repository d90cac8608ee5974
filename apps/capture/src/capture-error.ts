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

/**
 * Maps a client error (Matrix errcode or M_NETWORK) to the capture's code, with one line that
 * says what happened first and the relay's own words after it.
 */
export function captureErrorFrom(err: unknown, relay: string): CaptureError {
  if (err instanceof CaptureError) return err;
  const e = err as { code?: string; message?: string; status?: number };
  const detail = e?.message ?? String(err);
  const make = (code: CaptureErrorCode, what: string) =>
    new CaptureError(code, `${what} (${detail})`, { cause: err });
  switch (e?.code) {
    case 'M_NETWORK':
      return make('UNREACHABLE', `cannot reach the relay at ${relay}`);
    case 'M_MISSING_TOKEN':
    case 'M_UNKNOWN_TOKEN':
      return make('REFUSED', `the relay at ${relay} refused the access token`);
    case 'M_FORBIDDEN':
      return make('REFUSED', `the relay at ${relay} refused the request`);
    case 'M_TOO_LARGE':
    case 'M_LIMIT_EXCEEDED':
      return make('RELAY_FULL', `the relay at ${relay} is full or a limit was reached`);
    case 'M_BAD_ARGUMENT':
      return new CaptureError('BAD_INPUT', detail, { cause: err });
    default:
      return make('RELAY_ERROR', `the relay at ${relay} answered with an error`);
  }
}
