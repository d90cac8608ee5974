/**
 * The player's one error class. Like hls.js, every error carries a `code` from the union below
 * and a `fatal` flag: a fatal error ends playback (the player moves to state `error`), a
 * non-fatal one is reported while the player recovers on its own (e.g. a dropped connection
 * it is reconnecting).
 */
export type PlayerErrorCode =
  /** The first block the player tried to open failed AES-GCM authentication: wrong key or IV. */
  | 'WRONG_KEY'
  /**
   * A block failed authentication after earlier ones passed, a seq did not follow (reordered,
   * duplicated or spliced blocks), or the framing broke mid-stream (bit flips in a header).
   */
  | 'TAMPERED'
  /** The media does not exist (404 M_NOT_FOUND) or the relay returned 416 for a start past its end. */
  | 'NOT_FOUND'
  /** The relay refused: 401/403/429 or another Matrix error the player cannot recover from. */
  | 'REFUSED'
  /** The connection failed or dropped; non-fatal while reconnecting, fatal once attempts run out. */
  | 'NETWORK'
  /** Authenticated bytes that are not the Ogg Opus layout DESIGN.md §3 fixes (bad page, no OpusHead). */
  | 'BAD_STREAM'
  /** A seek target outside the broadcast, or an option that makes no sense. */
  | 'BAD_REQUEST'
  /** The sink failed: its output closed (a pipe whose reader left, an audio player that quit). */
  | 'OUTPUT';

export class PlayerError extends Error {
  override readonly name = 'PlayerError';
  constructor(
    readonly code: PlayerErrorCode,
    message: string,
    readonly fatal: boolean,
    readonly details: { seq?: number; offset?: number; status?: number; errcode?: string } = {},
  ) {
    super(message);
  }
}

export function isPlayerError(err: unknown): err is PlayerError {
  return err instanceof PlayerError;
}
