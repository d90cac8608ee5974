/**
 * The context one Player shares with the parts that do its work. It holds the owners, each the
 * only writer of its fields (docs/player.md "Who owns what"): the state machine
 * (player-state-machine.ts), the block pipeline (what the blocks teach, decode and playout:
 * block-pipeline.ts), the leg planner (where legs aim: leg-planner.ts); itself it owns the key,
 * the authenticator, the stop request, the live edge and the counters, written only through
 * its methods. Internal: the public surface is the Player (player.ts).
 */
import type { BlockCipher } from '@mxcast/format';
import type { OpusHead } from '@mxcast/ogg';
import { BlockAuthenticator, type EpochKeyOptions } from './block-authenticator.ts';
import { BlockPipeline } from './block-pipeline.ts';
import type { BlockSource } from './block-source.ts';
import { LegPlanner } from './leg-planner.ts';
import type { PlayerError } from './player-error.ts';
import type { PlayerEvents, PlayerStatus } from './player-events.ts';
import type { PlayerOptions } from './player-options.ts';
import { PlayerStateMachine } from './player-state-machine.ts';
import { withAnswerTimeout } from '@mxcast/client';
import { fetchIndexWithRetry, type IndexRetryOptions } from './index-fetch-retry.ts';
import { parseMxcUri, type MediaLocation, type RelayIndex } from './relay-index.ts';
import { FIRST_AUDIO_SEQ, OPUS_RATE, blockStartSample } from './stream-geometry.ts';

export interface Header {
  readonly head: OpusHead;
  /** Offset of block 2, once known over HTTP. */
  readonly headerEnd: number | null;
}

/** The default answer timeout, ms (PlayerOptions.answerTimeoutMs): the capture's MediaClient's. */
export const DEFAULT_ANSWER_TIMEOUT_MS = 10_000;

export type Emit = <K extends keyof PlayerEvents>(event: K, value: PlayerEvents[K]) => void;

export class PlayerSession {
  readonly options: PlayerOptions;
  readonly location: MediaLocation;
  readonly now: () => number;
  readonly emit: Emit;
  /** HTTP or WebSocket, picked by the Player (its events call back into this session). */
  readonly source: BlockSource;
  /** The one writer of the player's state (player-state-machine.ts). */
  readonly machine: PlayerStateMachine;
  /** Owns what the blocks teach and the decode/playout chain (block-pipeline.ts). */
  readonly pipeline: BlockPipeline;
  /** Owns where legs aim: live or not, the header leg's target, variable block sizes (leg-planner.ts). */
  readonly planner: LegPlanner;
  #cipher: BlockCipher | undefined;
  #auth: BlockAuthenticator | undefined;
  #stopped = false;
  #liveEdgeBlocks = 0;
  /**
   * Whether the relay itself said where the edge is (index, WebSocket status). Blocks received
   * alone say nothing about it: a listener started at a time reads ahead of its position by
   * about the playout buffer only, so without the relay's word the delay would read ~0 s
   * however far behind it is (docs/player.md "Delay behind live").
   */
  #liveEdgeFromRelay = false;
  readonly #stats = { resyncs: 0, reconnects: 0, requests: 0 };
  #interrupted = false;

  constructor(options: PlayerOptions, emit: Emit, source: (s: PlayerSession) => BlockSource) {
    this.options = options;
    this.emit = emit;
    this.now = options.now ?? (() => performance.now());
    this.location = {
      relayUrl: options.relayUrl,
      ...parseMxcUri(options.mxc),
      ...(options.accessToken ? { accessToken: options.accessToken } : {}),
    };
    this.machine = new PlayerStateMachine((state, previous) => {
      // An ended broadcast is no longer "interrupted" (the relay ended it, or it resumed and ended).
      if (state === 'finished' || state === 'ended-without-finishing') this.#interrupted = false;
      emit('state', { state, previous });
      emit('status', this.status());
    });
    this.pipeline = new BlockPipeline(this);
    this.planner = new LegPlanner(this);
    this.source = source(this);
  }

  /** Called once by the Player when playback starts: the key is needed from the first leg on. */
  begin(cipher: BlockCipher, epochs?: EpochKeyOptions): void {
    if (this.#cipher) throw new Error('a player session begins once');
    this.#cipher = cipher;
    this.#auth = new BlockAuthenticator(cipher, epochs);
  }

  get cipher(): BlockCipher {
    if (!this.#cipher) throw new Error('the player has not started');
    return this.#cipher;
  }

  /** The seq-checking AES-GCM gate, the only way to plaintext (block-authenticator.ts). */
  get auth(): BlockAuthenticator {
    if (!this.#auth) throw new Error('the player has not started');
    return this.#auth;
  }

  /** stop() was called (by the Player only): legs and waits end as soon as they look. */
  get stopped(): boolean {
    return this.#stopped;
  }

  requestStop(): void {
    this.#stopped = true;
    this.#auth?.stop();
  }

  countRequest(): void {
    this.#stats.requests++;
  }

  countResync(): void {
    this.#stats.resyncs++;
  }

  countReconnect(): void {
    this.#stats.reconnects++;
  }

  /**
   * The caller's fetch, else the global one (looked up at each call, as tests may swap it),
   * its response headers bounded by the answer timeout (never its body).
   */
  get fetch(): typeof fetch {
    return withAnswerTimeout(this.options.fetch ?? fetch, this.answerTimeoutMs);
  }

  get answerTimeoutMs(): number {
    return this.options.answerTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS;
  }

  /**
   * Moves to the next relay node of the cluster (`fallbackRelayUrls`): the sources and the index
   * read `location` at each request, so the next one goes there. Nothing changes with one relay.
   * Any node serves any media from any block (docs/operations.md "Cluster").
   */
  nextRelay(): void {
    const others = this.options.fallbackRelayUrls ?? [];
    if (others.length === 0) return;
    const all = [this.options.relayUrl, ...others];
    const at = all.indexOf(this.location.relayUrl);
    this.location.relayUrl = all[(at + 1) % all.length] as string;
  }

  /** Seconds of audio delivered to the sink, as a position in the broadcast. */
  get position(): number {
    return this.pipeline.positionSample / OPUS_RATE;
  }

  status(): PlayerStatus {
    let delay: number | null = null;
    const { geometry, output, positionSample, last } = this.pipeline;
    if (geometry && this.#liveEdgeFromRelay && this.#liveEdgeBlocks > FIRST_AUDIO_SEQ) {
      const edge = blockStartSample(geometry, this.#liveEdgeBlocks);
      delay = Math.max(0, (edge - positionSample) / OPUS_RATE);
    }
    return {
      state: this.machine.state,
      position: this.position,
      delayBehindLive: delay,
      jitterTargetMs: output ? output.jitter.targetMs : 0,
      ...this.#stats,
      lastSeq: last?.seq ?? null,
      interrupted: this.#interrupted,
    };
  }

  /** The relay's `interrupted` flag: an event and a status when it changes. */
  sawInterrupted(interrupted: boolean): void {
    if (interrupted === this.#interrupted) return;
    this.#interrupted = interrupted;
    this.emit('interrupted', { interrupted });
    this.emit('status', this.status());
  }

  /**
   * The relay's view of the newest block only ever grows (index, WS status, blocks received);
   * `fromRelay` is false for a block received, which proves it exists but not that it is the edge.
   */
  sawLiveEdge(blockCount: number, fromRelay = true): void {
    // A block past the edge the relay last told of was uploaded since: the broadcast is not
    // interrupted any more (over HTTP the index, which would say so, is not polled).
    if (!fromRelay && this.#interrupted && blockCount > this.#liveEdgeBlocks)
      this.sawInterrupted(false);
    this.#liveEdgeBlocks = Math.max(this.#liveEdgeBlocks, blockCount);
    if (fromRelay) this.#liveEdgeFromRelay = true;
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
      onRequest: () => this.countRequest(),
      onRetry: (error: PlayerError) => {
        this.emit('error', error);
        // A node down, hung or overloaded: the next attempt asks another node, if there is one.
        this.nextRelay();
      },
    };
  }
}
