/**
 * What the listener page needs from a playback engine. Two implement it (docs/web.md):
 * the direct engine (@mxcast/player into an AudioWorklet: lowest delay behind live) and the
 * HLS engine (hls.js over the relay's playlist through MSE: long back-buffers, seeking by the
 * browser's own media stack).
 */
import type { PlayerState } from '@mxcast/player';

export type EngineName = 'direct' | 'hls';

/** The player's states (data-state) — the page shows them all. */
export type ListenState = PlayerState;

/** Why playback stopped with an error (data-error): the player's error codes. */
export type ListenErrorCode =
  | 'WRONG_KEY'
  | 'TAMPERED'
  | 'NOT_FOUND'
  | 'REFUSED'
  | 'NETWORK'
  | 'BAD_STREAM'
  | 'BAD_REQUEST'
  | 'OUTPUT'
  | 'UNSUPPORTED';

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
