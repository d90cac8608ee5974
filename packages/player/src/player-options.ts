/**
 * The player's options and results (player.ts): what a caller gives a Player and gets back.
 */
import type { BlockCipher, EncryptedFile } from '@mxcast/format';
import type { EpochKeys } from './epoch-keys.ts';
import type { CreatePacketDecoder } from './opus-page-decoder.ts';
import type { PlayerError } from './player-error.ts';
import type { PcmSink } from './sink/pcm-sink.ts';
import type { WebSocketConstructor } from './ws-block-source.ts';

/** What the event content (`org.matrix.msc4016.stream`) or a listen link's `g` declares. */
export interface DeclaredGeometry {
  frameMs: number;
  framesPerBlock: number;
  blockSize: number;
  channels?: number;
}

export interface PlayerOptions {
  relayUrl: string;
  /**
   * Other nodes of the same relay cluster: each reconnect goes to the next of `relayUrl` and
   * these in turn, resuming by block as on one relay (docs/operations.md "Cluster").
   */
  fallbackRelayUrls?: string[];
  mxc: string;
  /** The EncryptedFile (key + IV), or a cipher made from it. Never sent anywhere. */
  file?: EncryptedFile;
  cipher?: BlockCipher;
  /**
   * Key epochs that can grow while playing (docs/format.md "Key epochs"): given, the player
   * decrypts each block under the epoch its seq falls in and waits for an epoch not yet known;
   * `file` and `cipher` are then not needed.
   */
  keys?: EpochKeys;
  /** Longest wait for the key of a block past the last known epoch (default 10 s). */
  keyWaitMs?: number;
  geometry?: DeclaredGeometry;
  sink: PcmSink;
  transport?: 'http' | 'ws';
  accessToken?: string;
  fetch?: typeof fetch;
  WebSocket?: WebSocketConstructor;
  /** Release audio on the wall clock through the adaptive jitter buffer (real-time playback). */
  pace?: boolean;
  /** Stop after this many seconds of audio reached the sink. */
  duration?: number;
  /** Reconnect attempts in a row before a network error becomes fatal. Default 30. */
  reconnectAttempts?: number;
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /**
   * Longest wait, ms, for a relay node's answer: an index's or a download's response headers, a
   * WebSocket's first message (never a download's body, which lasts as long as the media).
   * A node that accepts connections and never answers then fails like a dead one, and the
   * reconnect goes to the next of `fallbackRelayUrls` (docs/operations.md "Failover").
   * Default DEFAULT_ANSWER_TIMEOUT_MS (10 s, as the capture's MediaClient).
   */
  answerTimeoutMs?: number;
  /**
   * Attempts at the relay's index (live join, bisecting seek) before a transient failure
   * (network, 5xx, 429) becomes fatal. Default 5.
   */
  indexAttempts?: number;
  /** Wait before the first index retry, doubled before each next one. Default 150 ms. */
  indexRetryDelayMs?: number;
  maxBlockLength?: number;
  /** The Opus decoder: synchronous (opusscript, the default) or asynchronous (WebCodecs). */
  createDecoder?: CreatePacketDecoder;
  now?: () => number;
}

export type PlayFrom = { live: true } | { time: number };

export interface PlayerOutcome {
  state: 'finished' | 'ended-without-finishing' | 'stopped' | 'error';
  error?: PlayerError;
}
