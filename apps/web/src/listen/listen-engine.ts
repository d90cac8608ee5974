/**
 * What the listener page needs from a playback engine. Two implement it (docs/web.md):
 * the direct engine (@mxcast/player into an AudioWorklet: lowest delay behind live) and the
 * HLS engine (hls.js over the relay's playlist through MSE: long back-buffers, seeking by the
 * browser's own media stack).
 */
import type { PlayerErrorCode, PlayerState } from '@mxcast/player';

export type EngineName = 'direct' | 'hls';

/** The player's states (data-state) — the page shows them all. */
export type ListenState = PlayerState;

/**
 * The page's own error codes, beyond the player's (docs/errors.md): the browser cannot run the
 * HLS engine, or the link in the address bar cannot be read (shown before any engine starts).
 */
export type ListenOwnErrorCode = 'UNSUPPORTED' | 'BAD_LINK';

/**
 * Why playback stopped with an error (data-error): every player code (derived from the player's
 * table, so a new player code reaches the page's type by itself) plus the page's own.
 */
export type ListenErrorCode = PlayerErrorCode | ListenOwnErrorCode;

export interface EngineStatus {
  state: ListenState;
  /** Seconds into the broadcast being heard now. */
  position: number;
  /** Seconds behind the newest audio the engine knows of; null when unknown. */
  delayBehindLive: number | null;
  errorCode?: ListenErrorCode;
  errorMessage?: string;
}

export interface ListenEngine {
  readonly name: EngineName;
  /** Starts playing at the live edge or at a time (seconds). */
  start(from: 'live' | number): Promise<void>;
  seek(to: number | 'live'): void;
  /** Current status (polled by the page a few times a second). */
  status(): EngineStatus;
  destroy(): Promise<void>;
}

export interface EngineHooks {
  /** A state change the page should show at once (errors, finished …). */
  onChange(): void;
}
