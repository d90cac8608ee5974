/**
 * The player's state (docs/player.md "States") as a small state machine: the one place that
 * writes it, with every allowed edge in one table. A refused edge is a bug in the player, not
 * bad input, so it throws an Error (`IllegalTransition`) rather than being silently taken;
 * callers that may race with the end of playback (the paced playout's timer) ask `can` first.
 *
 *   idle ─▶ connecting ─▶ live ⇄ playing
 *                │          ▲ ⇅    ⇅ ▲
 *                │          seeking ⇄ buffering   (buffering: the jitter buffer ran dry, or a reconnect)
 *                ▼
 *   any active state ─▶ finished | ended-without-finishing | stopped | error   (terminal: no way out)
 */
import type { PlayerState } from './player-events.ts';

/** States a player is over in: `play()` has resolved to one of them. */
export const TERMINAL_STATES = ['finished', 'ended-without-finishing', 'stopped', 'error'] as const;
export type TerminalState = (typeof TERMINAL_STATES)[number];

/** States in which audio is (or is about to be) flowing: each may move to any other. */
const ACTIVE = ['live', 'playing', 'seeking', 'buffering'] as const;

/** The allowed edges, `from → to[]`. Staying in the same state is not a transition (no event). */
export const TRANSITIONS: { readonly [S in PlayerState]: readonly PlayerState[] } = {
  // Only play() leaves idle (stop() before play() still goes through connecting, then stopped).
  idle: ['connecting'],
  // Reading the header or joining: the first audio decides live or playing; a seek, a drop
  // (reconnect) or the end can come before any audio.
  connecting: [...ACTIVE, ...TERMINAL_STATES],
  live: [...ACTIVE.filter((s) => s !== 'live'), ...TERMINAL_STATES],
  playing: [...ACTIVE.filter((s) => s !== 'playing'), ...TERMINAL_STATES],
  seeking: [...ACTIVE.filter((s) => s !== 'seeking'), ...TERMINAL_STATES],
  buffering: [...ACTIVE.filter((s) => s !== 'buffering'), ...TERMINAL_STATES],
  finished: [],
  'ended-without-finishing': [],
  stopped: [],
  error: [],
};

export function isTerminal(state: PlayerState): state is TerminalState {
  return (TERMINAL_STATES as readonly PlayerState[]).includes(state);
}

/** A transition the table refuses: the player's own logic went wrong. */
export class IllegalTransition extends Error {
  override readonly name = 'IllegalTransition';
  constructor(
    readonly from: PlayerState,
    readonly to: PlayerState,
  ) {
    super(`player state cannot go from ${from} to ${to}`);
  }
}

export class PlayerStateMachine {
  #state: PlayerState = 'idle';
  readonly #onChange: (state: PlayerState, previous: PlayerState) => void;

  /** `onChange` runs after each transition taken (the Player emits `state` and `status`). */
  constructor(onChange: (state: PlayerState, previous: PlayerState) => void) {
    this.#onChange = onChange;
  }

  get state(): PlayerState {
    return this.#state;
  }

  get isOver(): boolean {
    return isTerminal(this.#state);
  }

  /** Whether `to` is allowed from here (the same state counts: `to` would be a no-op). */
  can(to: PlayerState): boolean {
    return to === this.#state || TRANSITIONS[this.#state].includes(to);
  }

  /** Moves to `to` (no-op if already there); throws IllegalTransition for an edge not in the table. */
  to(to: PlayerState): void {
    if (to === this.#state) return;
    if (!TRANSITIONS[this.#state].includes(to)) throw new IllegalTransition(this.#state, to);
    const previous = this.#state;
    this.#state = to;
    this.#onChange(to, previous);
  }

  /** Moves to `to` if allowed; false (and nothing happens) otherwise. For callers racing the end. */
  tryTo(to: PlayerState): boolean {
    if (!this.can(to)) return false;
    this.to(to);
    return true;
  }
}
