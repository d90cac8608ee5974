/**
 * The sender's claims checked while a room broadcast plays (docs/matrix.md "Checkpoints and
 * completion"): the player's digest of every authenticated block goes to @mxcast/matrix's
 * CheckpointVerifier, and the broadcaster's checkpoint, completion and cancel events are read
 * from the room every 2 s. A mismatch stops the player at once with TAMPERED (the page shows it
 * as such). The glue mirrors the CLI's `listen --room` (apps/cli/src/commands/matrix-listen.ts);
 * the verifier and the claim reader are the same code.
 */
import {
  CheckpointMismatch,
  CheckpointVerifier,
  fetchSenderClaims,
  type MatrixSession,
  type StreamOutcome,
} from '@mxcast/matrix/browser';
import { PlayerError } from '@mxcast/player';
import type { PlaybackTap } from '../listen/hls-claims-tap.ts';

const CLAIM_POLL_MS = 2000;
/** After the stream ends, how long the sender's last word (sent just after its upload) may take. */
const LAST_WORD_WAIT_MS = 10_000;

export type RelayEndState = 'complete' | 'cancelled' | 'unknown';

export interface ClaimTarget {
  roomId: string;
  announcementEventId: string;
  broadcaster: string;
}

export class RoomClaimsCheck {
  readonly #session: MatrixSession;
  readonly #target: ClaimTarget;
  readonly #onChange: () => void;
  readonly #seen = new Set<string>();
  #verifier = new CheckpointVerifier();
  #player: PlaybackTap | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;
  #polling: Promise<void> = Promise.resolve();
  /** The sender's last word so far. */
  completed = false;
  cancelled = false;
  tampered: string | null = null;
  /** How the stream ended against the sender's claims, once it has ended (docs/matrix.md). */
  outcome: StreamOutcome | null = null;
  readonly #relayState: () => Promise<RelayEndState>;

  constructor(
    session: MatrixSession,
    target: ClaimTarget,
    relayState: () => Promise<RelayEndState>,
    onChange: () => void,
  ) {
    this.#session = session;
    this.#target = target;
    this.#relayState = relayState;
    this.#onChange = onChange;
  }

  /** Intervals checked and equal. */
  get verified(): number {
    return this.#verifier.verified;
  }

  /**
   * A new player (start, seek, engine switch): a fresh verifier, claims read again. The direct
   * engine's Player, or the HLS engine's tap (the same events).
   */
  attach(player: PlaybackTap): void {
    this.#player = player;
    this.#verifier = new CheckpointVerifier();
    this.#seen.clear();
    player.on('digest', ({ seq, sha256 }) => {
      this.#guard(() => this.#verifier.onBlockDigest(seq, sha256));
    });
    player.on('state', ({ state }) => {
      if (player !== this.#player) return;
      if (state === 'finished' || state === 'ended-without-finishing') void this.#ended();
    });
    void this.#poll();
    clearInterval(this.#timer);
    this.#timer = setInterval(() => void this.#poll(), CLAIM_POLL_MS);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** The stream ended: the sender's last word (waited for), then the verdict (the CLI's). */
  async #ended(): Promise<void> {
    clearInterval(this.#timer);
    await this.#poll();
    for (
      let waited = 0;
      waited < LAST_WORD_WAIT_MS && !this.completed && !this.cancelled && !this.tampered;
      waited += 500
    ) {
      await new Promise((r) => setTimeout(r, 500));
      await this.#poll();
    }
    if (this.tampered) return;
    const relay = await this.#relayState().catch((): RelayEndState => 'unknown');
    this.outcome = this.#verifier.outcome(relay);
    this.#onChange();
  }

  #poll(): Promise<void> {
    this.#polling = this.#polling.then(async () => {
      if (this.tampered) return;
      const { roomId, announcementEventId, broadcaster } = this.#target;
      const before = this.#verifier.verified;
      let claims;
      try {
        claims = await fetchSenderClaims(
          this.#session,
          roomId,
          announcementEventId,
          broadcaster,
          this.#seen,
        );
      } catch {
        return; // the homeserver did not answer: asked again at the next poll
      }
      this.#guard(() => {
        claims.checkpoints.forEach((c) => this.#verifier.addCheckpoint(c));
        if (claims.completion) {
          this.completed = true;
          this.#verifier.setCompletion(claims.completion);
        }
        if (claims.cancel) {
          this.cancelled = true;
          this.#verifier.setCancel(claims.cancel);
        }
      });
      if (this.#verifier.verified !== before) this.#onChange();
    });
    return this.#polling;
  }

  #guard(step: () => void): void {
    try {
      step();
    } catch (err) {
      if (!(err instanceof CheckpointMismatch)) throw err;
      this.tampered ??= err.message;
      this.#player?.fail(
        new PlayerError('TAMPERED', `the sender's claims do not hold: ${err.message}`, {
          fatal: true,
          seq: err.seq,
        }),
      );
      this.#onChange();
    }
  }
}
