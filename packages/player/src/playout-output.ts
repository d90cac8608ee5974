/**
 * Between the decoder and the sink. Unpaced (files, pipes, callbacks, or a sink that owns its
 * clock like the AudioWorklet) audio goes to the sink as soon as it is decoded, with the sink's
 * backpressure. Paced (`pace: true`, real-time playback through a device that just consumes
 * what it gets) a JitterBuffer releases it on the wall clock, after a target delay that adapts
 * to the observed arrival jitter.
 */
import { JitterBuffer, type PlayoutState } from './jitter-buffer.ts';
import { isPlayerError, PlayerError } from './player-error.ts';
import type { PcmChunk } from './opus-page-decoder.ts';
import type { PcmSink } from './sink/pcm-sink.ts';

export interface PlayoutOutputOptions {
  sink: PcmSink;
  pace: boolean;
  channels: number;
  now: () => number;
  /** Paced mode: the jitter buffer ran dry (`buffering`) or started playing. */
  onPlayoutState?: (state: PlayoutState) => void;
  /** Output sample just past the last frame the sink received. */
  onPlayed?: (endSample: number) => void;
  tickMs?: number;
  /** Paced: how much audio (ms) beyond the jitter target may wait in the buffer. Default 1000. */
  maxAheadMs?: number;
}

export class PlayoutOutput {
  readonly jitter: JitterBuffer;
  readonly #o: PlayoutOutputOptions;
  #timer: ReturnType<typeof setInterval> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #failed: unknown;
  #lastState: PlayoutState = 'buffering';
  #lastTarget = -1;
  /** Bumped by reset(): a write waiting for room drops its (now stale) chunk. */
  #generation = 0;

  constructor(options: PlayoutOutputOptions) {
    this.#o = options;
    this.jitter = new JitterBuffer({ channels: options.channels });
  }

  async write(chunk: PcmChunk): Promise<void> {
    if (this.#failed) throw this.#failed;
    if (!this.#o.pace) {
      this.jitter.observe(chunk, this.#o.now());
      await this.#sinkWrite(chunk);
      this.#o.onPlayed?.(chunk.startSample + chunk.pcm.length / chunk.channels);
      this.#updateTarget();
      return;
    }
    // Backpressure: read no further ahead of playout than needed, so a seek or a stop acts at once
    // and a finished broadcast is not pulled into memory whole.
    const generation = this.#generation;
    while (
      this.jitter.bufferedMs > this.jitter.targetMs + (this.#o.maxAheadMs ?? 1000) &&
      !this.#failed
    ) {
      await new Promise((r) => setTimeout(r, this.#o.tickMs ?? 10));
      if (generation !== this.#generation) return;
    }
    this.jitter.push(chunk, this.#o.now());
    this.#updateTarget();
    this.#timer ??= setInterval(() => this.#tick(), this.#o.tickMs ?? 10);
  }

  /** Drop queued audio (a seek). */
  reset(): void {
    this.#generation++;
    this.jitter.reset();
    (this.#o.sink as { flush?: () => void }).flush?.();
  }

  /** Waits until every queued frame went to the sink (end of stream). */
  async drain(): Promise<void> {
    if (this.#o.pace) {
      while (this.jitter.bufferedMs > 0 && !this.#failed) {
        await new Promise((r) => setTimeout(r, this.#o.tickMs ?? 10));
        if (this.jitter.state === 'buffering') for (const c of this.jitter.drain()) this.#send(c);
      }
    }
    await this.#writing;
    if (this.#failed) throw this.#failed;
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#writing.catch(() => {});
    await this.#o.sink.close?.();
  }

  #tick(): void {
    for (const chunk of this.jitter.pull(this.#o.now())) this.#send(chunk);
    const state = this.jitter.state;
    if (state !== this.#lastState) {
      this.#lastState = state;
      this.#o.onPlayoutState?.(state);
    }
  }

  #send(chunk: PcmChunk): void {
    this.#writing = this.#writing
      .then(() => this.#sinkWrite(chunk))
      .then(() => this.#o.onPlayed?.(chunk.startSample + chunk.pcm.length / chunk.channels))
      .catch((err: unknown) => {
        this.#failed = err;
      });
  }

  /** The sink's own failures (closed pipe, player gone) as the player's fatal `OUTPUT` error. */
  async #sinkWrite(chunk: PcmChunk): Promise<void> {
    try {
      await this.#o.sink.write(chunk);
    } catch (err) {
      if (isPlayerError(err)) throw err;
      throw new PlayerError('OUTPUT', (err as Error).message ?? String(err), {
        fatal: true,
        cause: err,
      });
    }
  }

  #updateTarget(): void {
    const target = Math.round(this.jitter.targetMs);
    if (target !== this.#lastTarget) {
      this.#lastTarget = target;
      this.#o.sink.setTargetMs?.(target);
    }
  }
}
