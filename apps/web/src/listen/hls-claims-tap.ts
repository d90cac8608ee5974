/**
 * What a room listen's claims check needs from whatever plays (docs/matrix.md "Checkpoints and
 * completion"): the SHA-256 of each block as it is authenticated, the end of the stream, and a
 * way to stop playback when the sender's claims do not hold. The direct engine's Player has all
 * three; HlsClaimsTap gives the HLS engine the same, so a room broadcast heard over HLS (at a
 * speed ≠ 1, or chosen) is checked against the broadcaster's checkpoints like the direct one.
 */
import { PlayerEmitter, type Player, type PlayerError, type PlayerState } from '@mxcast/player';

/** The part of a Player the claims check uses (room-claims-check.ts). */
export type PlaybackTap = Pick<Player, 'on' | 'fail'>;

export class HlsClaimsTap extends PlayerEmitter implements PlaybackTap {
  readonly #onFail: (error: PlayerError) => void;
  /** Digests go out in the order the blocks were authenticated (subtle.digest is async). */
  #digests: Promise<void> = Promise.resolve();
  #ended = false;

  constructor(onFail: (error: PlayerError) => void) {
    super();
    this.#onFail = onFail;
  }

  /** A block the remuxer authenticated: its ciphertext with tag, as the player digests it. */
  block(seq: number, ciphertext: Uint8Array): void {
    if (!this.listens('digest')) return;
    const bytes = Uint8Array.from(ciphertext);
    this.#digests = this.#digests
      .then(() => crypto.subtle.digest('SHA-256', bytes))
      .then((hash) => this.emit('digest', { seq, sha256: new Uint8Array(hash) }))
      .catch(() => undefined);
  }

  /** The engine reached an end state: once, after every digest before it. */
  ended(state: Extract<PlayerState, 'finished' | 'ended-without-finishing'>): void {
    if (this.#ended) return;
    this.#ended = true;
    void this.#digests.then(() => this.emit('state', { state, previous: 'playing' }));
  }

  /** The claims check found a mismatch: the engine stops with that error. */
  fail(error: PlayerError): void {
    this.#onFail(error);
  }
}
