/**
 * The player's states and events, and a small typed emitter (no Node `events`: the core runs in
 * browsers too).
 */
import type { PlayerError } from './player-error.ts';

export type PlayerState =
  | 'idle'
  | 'connecting'
  /** Joined at the live edge and waiting for / playing the newest blocks. */
  | 'live'
  /** Playing from a position in the past (a seek or `from` time). */
  | 'playing'
  | 'seeking'
  /** The jitter buffer ran dry (or a reconnect is under way); playback resumes when it refills. */
  | 'buffering'
  /** The last block carried the Ogg EOS flag (docs/audio.md): the broadcast finished. */
  | 'finished'
  /** The stream stopped (completed, cancelled or cut) without an EOS page: never "finished". */
  | 'ended-without-finishing'
  /** Playback was stopped by the caller (`stop()` or `duration` reached). */
  | 'stopped'
  | 'error';

export interface PlayerStatus {
  state: PlayerState;
  /** Seconds of audio handed to the sink so far, as a position in the broadcast. */
  position: number;
  /** Seconds between the newest audio known to exist and `position`; null when unknown. */
  delayBehindLive: number | null;
  /** Current jitter-buffer target in milliseconds (paced playback only). */
  jitterTargetMs: number;
  resyncs: number;
  reconnects: number;
  /** HTTP requests and WebSocket connections made so far. */
  requests: number;
  /** Seq of the last block that authenticated. */
  lastSeq: number | null;
  /**
   * The relay says the broadcaster's upload has gone silent (docs/protocol.md "Interrupted
   * broadcasts"): show "interrupted", not a frozen live edge. False with relays that predate it.
   */
  interrupted: boolean;
}

export interface PlayerEvents {
  state: { state: PlayerState; previous: PlayerState };
  error: PlayerError;
  /** Sent when a connection dropped and the player resumes from `fromSeq` at byte `offset`. */
  reconnecting: { attempt: number; fromSeq: number; offset: number; reason: string };
  reconnected: { attempt: number; fromSeq: number };
  /** A block authenticated and was decoded (before any trimming). */
  block: { seq: number; granule: bigint; eos: boolean };
  /**
   * A block authenticated: its seq and the SHA-256 of its ciphertext with tag (block-digest.ts),
   * in read order, for a check against the sender's checkpoints (docs/matrix.md). Computed only
   * while someone listens to this event.
   */
  digest: { seq: number; sha256: Uint8Array };
  /** The framing was lost and found again (a start at an offset not known to be a boundary). */
  resync: { from: number; to: number };
  /** The relay marked the broadcast interrupted (upload silent), or cleared it (blocks again). */
  interrupted: { interrupted: boolean };
  /**
   * A live join whose edge (`edge`, the block it would have started at) is in a stretch the key
   * source withholds starts at `seq` instead, the first block it can open, and waits for the
   * relay to have it (live-key-start.ts).
   */
  liveStartMoved: { edge: number; seq: number };
  status: PlayerStatus;
}

type Listener<T> = (value: T) => void;

export class PlayerEmitter {
  readonly #listeners = new Map<keyof PlayerEvents, Set<Listener<never>>>();

  on<K extends keyof PlayerEvents>(event: K, listener: Listener<PlayerEvents[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  /** Whether anyone listens to `event` (a costly payload is computed only then). */
  listens(event: keyof PlayerEvents): boolean {
    return (this.#listeners.get(event)?.size ?? 0) > 0;
  }

  protected emit<K extends keyof PlayerEvents>(event: K, value: PlayerEvents[K]): void {
    for (const listener of this.#listeners.get(event) ?? [])
      (listener as Listener<PlayerEvents[K]>)(value);
  }
}
