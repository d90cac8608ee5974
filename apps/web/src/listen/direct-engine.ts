/**
 * The direct engine: @mxcast/player reads blocks from the relay, authenticates and decodes them
 * in the page, and plays PCM through an AudioWorklet (the player's WorkletSink). It joins at
 * the newest block, so it has the lowest delay behind live; seeking is one Range request.
 * Opus is decoded by the browser's WebCodecs AudioDecoder where it has Opus, else by opusscript
 * (codec/webcodecs-opus-decoder.ts); which one is on `<html data-decoder>` and in `decoder`.
 */
import {
  Player,
  WorkletSink,
  declaredGeometryOf,
  isPlayerError,
  type EpochKeys,
  type PcmSink,
  type PlayerError,
} from '@mxcast/player';
import type { StreamGeometry } from '@mxcast/client';
import type { EncryptedFile } from '@mxcast/format';
import {
  browserOpusDecoderFactory,
  type OpusDecoderKind,
} from '../codec/webcodecs-opus-decoder.ts';
import type { EngineHooks, EngineStatus, ListenEngine, ListenState } from './listen-engine.ts';

export interface DirectEngineOptions {
  relayUrl: string;
  mxc: string;
  file: EncryptedFile;
  geometry: StreamGeometry | null;
  context: AudioContext;
  /** Where the audio goes (the page's analyser, then the speakers). */
  destination: AudioNode;
  hooks: EngineHooks;
  /** A Matrix access token for a relay in homeserver mode (docs/web.md "Matrix"). */
  accessToken?: string;
  /** Key epochs from the room (docs/matrix.md "Key epochs"); none: the file's one key. */
  keys?: EpochKeys;
  /** Each new player, before it plays (the room's checkpoint check listens to its digests). */
  onPlayer?: (player: Player) => void;
}

export class DirectEngine implements ListenEngine {
  readonly name = 'direct' as const;
  readonly #o: DirectEngineOptions;
  #player: Player | null = null;
  #sink: WorkletSink | null = null;
  #error: PlayerError | null = null;
  /**
   * What is queued in the worklet, counted here: frames written since the last flush minus
   * frames played since then. (The worklet's own `queued` report goes stale while it refills.)
   */
  #writtenSinceFlush = 0;
  #playedAtFlush = 0;
  /** What to show until audio reaches the worklet after the start or a seek (see status()). */
  #beforeAudio: 'connecting' | 'seeking' = 'connecting';
  /** Which Opus decoder the stream got (null until its OpusHead arrived). */
  decoder: OpusDecoderKind | null = null;

  constructor(options: DirectEngineOptions) {
    this.#o = options;
  }

  async start(from: 'live' | number): Promise<void> {
    const { relayUrl, mxc, file, geometry, context, destination, hooks } = this.#o;
    const sink = await WorkletSink.create({
      channels: geometry?.channels ?? 1,
      context,
      destination,
    });
    this.#sink = sink;
    // The page owns the AudioContext (it outlives engine switches): closing this engine's sink
    // only disconnects its worklet node.
    const pageSink: PcmSink = {
      ownsClock: true,
      write: (chunk) => {
        this.#writtenSinceFlush += chunk.pcm.length / sink.channels;
        sink.write(chunk);
      },
      setTargetMs: (ms) => sink.setTargetMs(ms),
      close: () => sink.node.disconnect(),
    };
    const createDecoder = await browserOpusDecoderFactory((kind) => {
      this.decoder = kind;
      // For tests and embedders; the page element belongs to listener-page.ts.
      if (typeof document !== 'undefined') document.documentElement.dataset.decoder = kind;
    });
    const player = new Player({
      relayUrl,
      createDecoder,
      mxc,
      file,
      sink: pageSink,
      transport: 'ws',
      ...(this.#o.accessToken ? { accessToken: this.#o.accessToken } : {}),
      ...(this.#o.keys ? { keys: this.#o.keys } : {}),
      ...(geometry ? { geometry: declaredGeometryOf(geometry) } : {}),
    });
    this.#player = player;
    this.#o.onPlayer?.(player);
    player.on('state', () => hooks.onChange());
    player.on('error', (error) => {
      if (error.fatal) this.#error = error;
      hooks.onChange();
    });
    void player.play(from === 'live' ? { live: true } : { time: from });
  }

  seek(to: number | 'live'): void {
    // A seek drops what the worklet still holds, so the new position is heard at once.
    this.#beforeAudio = 'seeking';
    if (this.#sink) {
      this.#sink.flush();
      this.#writtenSinceFlush = 0;
      this.#playedAtFlush = this.#sink.playedFrames;
    }
    this.#player?.seek(to);
  }

  status(): EngineStatus {
    const player = this.#player;
    if (!player) return { state: 'connecting', position: 0, delayBehindLive: null };
    const s = player.status();
    // The player counts audio handed to the worklet; what is heard lags by what is queued there.
    const played = this.#sink ? this.#sink.playedFrames - this.#playedAtFlush : 0;
    const queued = Math.max(0, this.#writtenSinceFlush - played) / 48000;
    const position = Math.max(0, s.position - queued);
    const status: EngineStatus = {
      state: whileHeard(
        untilFirstAudio(s.state, this.#writtenSinceFlush > 0, this.#beforeAudio),
        queued,
      ),
      position,
      delayBehindLive: s.delayBehindLive === null ? null : s.delayBehindLive + queued,
    };
    if (this.#error && isPlayerError(this.#error)) {
      status.errorCode = this.#error.code;
      status.errorMessage = this.#error.message;
    }
    return status;
  }

  /**
   * The player has stopped reading (it handed the last block to the worklet): a seek must start
   * a new player even while the worklet still plays the tail (status() then says `playing`).
   */
  get readerOver(): boolean {
    const state = this.#player?.status().state;
    return state === 'finished' || state === 'ended-without-finishing';
  }

  async destroy(): Promise<void> {
    this.#player?.stop();
    this.#sink?.node.disconnect();
    this.#player = null;
  }
}

/**
 * The player says live (or playing) once it has joined, a moment before its first block reaches
 * the worklet; until then its position is still 0 (or the place before a seek). So the state
 * changes when the position does: before any audio of this start or seek has been handed to
 * the worklet, `live`/`playing` read as `before` (connecting, or seeking).
 */
export function untilFirstAudio(
  state: ListenState,
  audioWritten: boolean,
  before: 'connecting' | 'seeking',
): ListenState {
  return !audioWritten && (state === 'live' || state === 'playing') ? before : state;
}

/** Audio still queued in the worklet beyond this (seconds) is still being heard. */
const HEARD_TAIL_S = 0.25;

/**
 * The player finishes when it has handed the last block to the worklet, not when it is heard:
 * replaying a recording over the WebSocket, the relay sends all of it at once and the worklet
 * holds seconds (or minutes) still to play. Until that tail has played, the page says `playing`
 * — else it showed "The broadcast finished" over audible audio and never `playing` at all.
 */
export function whileHeard(state: ListenState, queuedSeconds: number): ListenState {
  const over = state === 'finished' || state === 'ended-without-finishing';
  return over && queuedSeconds > HEARD_TAIL_S ? 'playing' : state;
}
