/**
 * The state one Player shares with the parts that do its work (leg-planner.ts, block-pipeline.ts,
 * reconnect-planner.ts): what is known about the stream (header, geometry, last good block),
 * the decode/playout chain, counters, and the state machine with its events (docs/player.md
 * "States", "Events"). Internal: the public surface is the Player (player.ts).
 */
import type { BlockCipher, ByteOrder } from '@mxcast/format';
import type { OpusHead } from '@mxcast/ogg';
import type { BlockAuthenticator } from './block-authenticator.ts';
import type { BlockSource } from './block-source.ts';
import type { ProbedBlock } from './granule-bisector.ts';
import { OggBlockDemuxer } from './ogg-block-demuxer.ts';
import type { OpusPageDecoder } from './opus-page-decoder.ts';
import type { PlayerError } from './player-error.ts';
import type { PlayerEvents, PlayerState, PlayerStatus } from './player-events.ts';
import type { PlayFrom, PlayerOptions } from './player-options.ts';
import type { PlayoutOutput } from './playout-output.ts';
import { fetchIndexWithRetry, type IndexRetryOptions } from './index-fetch-retry.ts';
import { parseMxcUri, type MediaLocation, type RelayIndex } from './relay-index.ts';
import {
  FIRST_AUDIO_SEQ,
  OPUS_RATE,
  blockStartSample,
  type StreamGeometry,
} from './stream-geometry.ts';

export interface Header {
  head: OpusHead;
  /** Offset of block 2, once known over HTTP. */
  headerEnd: number | null;
}

export type Emit = <K extends keyof PlayerEvents>(event: K, value: PlayerEvents[K]) => void;

export class PlayerSession {
  readonly options: PlayerOptions;
  readonly location: MediaLocation;
  readonly now: () => number;
  readonly emit: Emit;
  /** Set once by the Player's constructor (it picks HTTP or WebSocket). */
  source!: BlockSource;
  state: PlayerState = 'idle';
  cipher: BlockCipher | undefined;
  auth: BlockAuthenticator | undefined;
  readonly demux = new OggBlockDemuxer();
  header: Header | undefined;
  geometry: StreamGeometry | undefined;
  decoder: OpusPageDecoder | undefined;
  output: PlayoutOutput | undefined;
  /** Output sample before which decoded audio is dropped (seek target, pre-skip). */
  discardBefore = 0;
  /** Bumped by seek(): audio decoded for an older position is dropped. */
  seekGeneration = 0;
  /** Block sizes turned out to vary: time seeks bisect on granules. */
  variableBlocks = false;
  /** Block 2 as framed and authenticated (the bisection's lower bound). */
  firstAudio: ProbedBlock | undefined;
  byteOrder: ByteOrder | undefined;
  /** Set while a header leg runs: where the caller wanted to play from. */
  headerLegFor: PlayFrom | undefined;
  stopped = false;
  live = false;
  /** Last authenticated block and the offset just past it (null over WebSocket). */
  last: { seq: number; next: number | null } | undefined;
  liveEdgeBlocks = 0;
  /**
   * Whether the relay itself said where the edge is (index, WebSocket status). Blocks received
   * alone say nothing about it: a listener started at a time reads ahead of its position by
   * about the playout buffer only, so without the relay's word the delay would read ~0 s
   * however far behind it is (docs/player.md "Delay behind live").
   */
  liveEdgeFromRelay = false;
  positionSample = 0;
  endSample: number | undefined;
  readonly stats = { resyncs: 0, reconnects: 0, requests: 0 };

  constructor(options: PlayerOptions, emit: Emit) {
    this.options = options;
    this.emit = emit;
    this.now = options.now ?? (() => performance.now());
    this.location = {
      relayUrl: options.relayUrl,
      ...parseMxcUri(options.mxc),
      ...(options.accessToken ? { accessToken: options.accessToken } : {}),
    };
  }

  /** The caller's fetch, else the global one (looked up at each call, as tests may swap it). */
  get fetch(): typeof fetch {
    return this.options.fetch ?? fetch;
  }

  /** Seconds of audio delivered to the sink, as a position in the broadcast. */
  get position(): number {
    return this.positionSample / OPUS_RATE;
  }

  status(): PlayerStatus {
    let delay: number | null = null;
    if (this.geometry && this.liveEdgeFromRelay && this.liveEdgeBlocks > FIRST_AUDIO_SEQ) {
      const edge = blockStartSample(this.geometry, this.liveEdgeBlocks);
      delay = Math.max(0, (edge - this.positionSample) / OPUS_RATE);
    }
    return {
      state: this.state,
      position: this.position,
      delayBehindLive: delay,
      jitterTargetMs: this.output ? this.output.jitter.targetMs : 0,
      ...this.stats,
      lastSeq: this.last?.seq ?? null,
    };
  }

  setState(state: PlayerState): void {
    if (state === this.state) return;
    const previous = this.state;
    this.state = state;
    this.emit('state', { state, previous });
    this.emit('status', this.status());
  }

  /**
   * The relay's view of the newest block only ever grows (index, WS status, blocks received);
   * `fromRelay` is false for a block received, which proves it exists but not that it is the edge.
   */
  sawLiveEdge(blockCount: number, fromRelay = true): void {
    this.liveEdgeBlocks = Math.max(this.liveEdgeBlocks, blockCount);
    if (fromRelay) this.liveEdgeFromRelay = true;
  }

  /**
   * The relay's index, a transient failure (network, 5xx, 429) retried with a doubling delay
   * and reported as a non-fatal `error` event, fatal after the last attempt (index-fetch-retry.ts).
   */
  fetchIndex(range?: { from: number; count: number }): Promise<RelayIndex> {
    return fetchIndexWithRetry(this.location, this.fetch, this.indexRetry(), range);
  }

  indexRetry(): IndexRetryOptions {
    return {
      ...(this.options.indexAttempts !== undefined ? { attempts: this.options.indexAttempts } : {}),
      ...(this.options.indexRetryDelayMs !== undefined
        ? { delayMs: this.options.indexRetryDelayMs }
        : {}),
      onRequest: () => void this.stats.requests++,
      onRetry: (error: PlayerError) => this.emit('error', error),
    };
  }

  restartDecoder(discardBefore: number): void {
    this.discardBefore = discardBefore;
    this.decoder?.restart(discardBefore);
  }
}
