/**
 * The player's one error class. Like hls.js, every error carries a `code` and a `fatal` flag: a
 * fatal error ends playback (the player moves to state `error`), a non-fatal one is reported
 * while the player recovers on its own (e.g. a dropped connection it is reconnecting).
 * The codes are one table: the player's own (keys, stream, output, request) and the relay
 * failures shared with the capture through @mxcast/client (docs/errors.md says how a relay
 * errcode and a client code become each of them, and which CLI exit status each gets).
 */
import type { RelayFailure } from '@mxcast/client';

export const PLAYER_ERROR_CODES = {
  /** The first block the player tried to open failed AES-GCM authentication: wrong key or IV. */
  WRONG_KEY: 'the key does not open the broadcast',
  /**
   * A block failed authentication after earlier ones passed, a seq did not follow (reordered,
   * duplicated or spliced blocks), or the framing broke mid-stream (bit flips in a header).
   */
  TAMPERED: 'part of the broadcast failed its integrity check',
  /**
   * A block past the last key epoch this listener was given fails, and the key source says this
   * listener lost access (kicked, left, cannot decrypt the epoch event): docs/format.md "Key epochs".
   */
  NO_ACCESS: 'you no longer have access to this broadcast',
  /** Authenticated bytes that are not the Ogg Opus layout docs/format.md fixes (bad page, no OpusHead). */
  BAD_STREAM: 'the broadcast is not a stream this player understands',
  /** A seek target outside the broadcast, or an option that makes no sense. */
  BAD_REQUEST: 'the request to the player makes no sense',
  /** The sink failed: its output closed (a pipe whose reader left, an audio player that quit). */
  OUTPUT: 'the audio output failed',
  // The relay failures (@mxcast/client RELAY_FAILURES), the same names as the capture's.
  /** The connection failed or dropped, or a 5xx; non-fatal while retrying, fatal once attempts run out. */
  NETWORK: 'the relay could not be reached',
  /** The media does not exist (404 M_NOT_FOUND, WebSocket 4404) or 416 for a start past its end. */
  NOT_FOUND: 'the relay has no such broadcast',
  /** The relay refused this listener: 401 M_MISSING_TOKEN/M_UNKNOWN_TOKEN, 403 M_FORBIDDEN, WebSocket 1008/4401/4403. */
  REFUSED: 'the relay refused to serve this broadcast',
  /** A relay limit: 429 M_LIMIT_EXCEEDED (still there after the index retries), 413 M_TOO_LARGE. */
  LIMITED: 'the relay is busy or a limit was reached',
  /** Any other relay error the player cannot recover from (400, a relay that ignored Range). */
  RELAY_ERROR: 'the relay answered with an error',
} as const satisfies Record<string, string>;

export type PlayerErrorCode = keyof typeof PLAYER_ERROR_CODES;

/**
 * The player's code for a relay failure: the same name. It compiles only while every RelayFailure
 * is a PlayerErrorCode, so the two tables cannot drift apart.
 */
export function playerCodeOf(failure: RelayFailure): PlayerErrorCode {
  return failure;
}

/** Where the error happened, when known. */
export interface PlayerErrorDetails {
  seq?: number;
  offset?: number;
  /** The relay's HTTP status. */
  status?: number;
  /** The relay's Matrix errcode. */
  errcode?: string;
}

export interface PlayerErrorOptions extends PlayerErrorDetails {
  /** True when the error ends playback; false when the player recovers on its own. */
  fatal: boolean;
  /** The error this one reports (a fetch failure, a FormatError, the earlier retry). */
  cause?: unknown;
}

export class PlayerError extends Error {
  override readonly name = 'PlayerError';
  readonly fatal: boolean;
  readonly details: PlayerErrorDetails;

  constructor(
    readonly code: PlayerErrorCode,
    message: string,
    options: PlayerErrorOptions,
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.fatal = options.fatal;
    const details: PlayerErrorDetails = {};
    if (options.seq !== undefined) details.seq = options.seq;
    if (options.offset !== undefined) details.offset = options.offset;
    if (options.status !== undefined) details.status = options.status;
    if (options.errcode !== undefined) details.errcode = options.errcode;
    this.details = details;
  }
}

export function isPlayerError(err: unknown): err is PlayerError {
  return err instanceof PlayerError;
}
