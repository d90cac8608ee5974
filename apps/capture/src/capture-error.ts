/**
 * The one error class of @mxcast/capture. Each code maps to the exit code `mxcast capture`
 * returns (docs/capture.md "Exit codes"), so scripts can tell a refused token from a dead relay.
 * The relay-facing codes are the shared failure names of @mxcast/client (docs/errors.md): the
 * capture's NETWORK, REFUSED and LIMITED mean what the player's do.
 */
import { relayFailureOf, type RelayFailure } from '@mxcast/client';

/** Every capture code with its exit status: the one table the type and EXIT_CODES derive from. */
export const CAPTURE_ERROR_CODES = {
  /** A bad option or input (unknown preset, unreadable WAV, unsupported rate, no recorder). */
  BAD_INPUT: 2,
  /** The relay could not be reached (or stayed unreachable longer than the outage limit). */
  NETWORK: 3,
  /** The relay refused the access token or the operation (401/403). */
  REFUSED: 4,
  /** The relay is full or a limit was hit (413 M_TOO_LARGE, 429 M_LIMIT_EXCEEDED). */
  LIMITED: 5,
  /** The relay answered something the capture cannot continue from (bad block, lost data, 404). */
  RELAY_ERROR: 6,
  /** The state file is unreadable, tampered with, or the passphrase is wrong. */
  BAD_STATE: 7,
  /** The broadcast was cancelled (second Ctrl-C, or DELETE by someone else). */
  CANCELLED: 130,
} as const;

export type CaptureErrorCode = keyof typeof CAPTURE_ERROR_CODES;

export const EXIT_CODES: Readonly<Record<CaptureErrorCode, number>> = CAPTURE_ERROR_CODES;

/** The capture's code for each relay failure (a media gone mid-upload is a relay error here). */
const FROM_RELAY: Readonly<Record<RelayFailure, CaptureErrorCode>> = {
  NETWORK: 'NETWORK',
  NOT_FOUND: 'RELAY_ERROR',
  REFUSED: 'REFUSED',
  LIMITED: 'LIMITED',
  RELAY_ERROR: 'RELAY_ERROR',
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
 * Maps a client error (Matrix errcode, or the client's own NETWORK / BAD_ARGUMENT …) to the
 * capture's code, with one line that says what happened first and the relay's own words after it.
 */
export function captureErrorFrom(err: unknown, relay: string): CaptureError {
  if (err instanceof CaptureError) return err;
  const e = err as { code?: string; message?: string; status?: number };
  const detail = e?.message ?? String(err);
  if (e?.code === 'BAD_ARGUMENT') return new CaptureError('BAD_INPUT', detail, { cause: err });
  // Not from the client (no status): nothing says the relay is unreachable, so a relay error.
  const status = typeof e?.status === 'number' ? e.status : -1;
  const code = FROM_RELAY[relayFailureOf(status, e?.code)];
  const token = e?.code === 'M_MISSING_TOKEN' || e?.code === 'M_UNKNOWN_TOKEN';
  const what: Record<CaptureErrorCode, string> = {
    NETWORK: `cannot reach the relay at ${relay}`,
    REFUSED: `the relay at ${relay} refused the ${token ? 'access token' : 'request'}`,
    LIMITED: `the relay at ${relay} is full or a limit was reached`,
    RELAY_ERROR: `the relay at ${relay} answered with an error`,
    BAD_INPUT: detail,
    BAD_STATE: detail,
    CANCELLED: detail,
  };
  return new CaptureError(code, `${what[code]} (${detail})`, { cause: err });
}
