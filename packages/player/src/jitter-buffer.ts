/**
 * Playout with an adaptive jitter buffer. Each decoded chunk gets a playout time on a clock
 * anchored when playback (re)starts: anchor + target + its media time. The target follows the
 * interarrival jitter J of RFC 3550 §6.4.1 (J += (|D| − J) / 16, D the difference between the
 * arrival spacing and the media spacing of two chunks): target = clamp(minTarget + 4·J), grown
 * by half on every underrun. Time is passed in (`nowMs`), so this file needs no clock.
 */
import type { PcmChunk } from './opus-page-decoder.ts';
import { OPUS_RATE } from './stream-geometry.ts';

export interface JitterBufferOptions {
  channels: number;
  /** Never buffer less than this (ms). Default 20. */
  minTargetMs?: number;
  /** Never buffer more than this (ms). Default 2000. */
  maxTargetMs?: number;
}

export type PlayoutState = 'buffering' | 'playing';

export class JitterBuffer {
  readonly channels: number;
  readonly minTargetMs: number;
  readonly maxTargetMs: number;
  #queue: PcmChunk[] = [];
  #queuedFrames = 0;
  #jitterMs = 0;
  #underrunBoostMs = 0;
  #lastArrival: { nowMs: number; mediaMs: number } | undefined;
  #anchor: { nowMs: number; sample: number } | undefined;
  #state: PlayoutState = 'buffering';
  #underruns = 0;

  constructor(options: JitterBufferOptions) {
    this.channels = options.channels;
    this.minTargetMs = options.minTargetMs ?? 20;
    this.maxTargetMs = options.maxTargetMs ?? 2000;
  }

  get state(): PlayoutState {
    return this.#state;
  }
  get jitterMs(): number {
    return this.#jitterMs;
  }
  get underruns(): number {
    return this.#underruns;
  }
  get targetMs(): number {
    return Math.min(
      this.maxTargetMs,
      this.minTargetMs + 4 * this.#jitterMs + this.#underrunBoostMs,
    );
  }
  /** Audio waiting to be played, in ms. */
  get bufferedMs(): number {
    return (this.#queuedFrames / OPUS_RATE) * 1000;
  }

  /** A chunk arrived at `nowMs`. Chunks must be contiguous (call `reset` after a seek). */
  push(chunk: PcmChunk, nowMs: number): void {
    this.observe(chunk, nowMs);
    this.#queue.push(chunk);
    this.#queuedFrames += chunk.pcm.length / this.channels;
    if (this.#state === 'buffering' && !this.#anchor) {
      // Playback of this chunk starts one target from now.
      this.#anchor = { nowMs: nowMs + this.targetMs, sample: chunk.startSample };
    }
  }

  /** Updates the jitter estimate only (a sink that buffers on its own still wants the target). */
  observe(chunk: PcmChunk, nowMs: number): void {
    const mediaMs = (chunk.startSample / OPUS_RATE) * 1000;
    if (this.#lastArrival) {
      const d = nowMs - this.#lastArrival.nowMs - (mediaMs - this.#lastArrival.mediaMs);
      this.#jitterMs += (Math.abs(d) - this.#jitterMs) / 16;
    }
    this.#lastArrival = { nowMs, mediaMs };
  }

  /**
   * Everything due for playout by `nowMs` (sliced at the exact sample). Returns [] while
   * buffering. Running dry moves to `buffering` and re-anchors on the next chunk.
   */
  pull(nowMs: number): PcmChunk[] {
    const anchor = this.#anchor;
    if (!anchor || nowMs < anchor.nowMs) return [];
    this.#state = 'playing';
    const dueSample = anchor.sample + Math.floor(((nowMs - anchor.nowMs) / 1000) * OPUS_RATE);
    const out: PcmChunk[] = [];
    while (this.#queue.length > 0) {
      const chunk = this.#queue[0] as PcmChunk;
      const frames = chunk.pcm.length / this.channels;
      if (chunk.startSample >= dueSample) break;
      const take = Math.min(frames, dueSample - chunk.startSample);
      if (take === frames) {
        this.#queue.shift();
        out.push(chunk);
      } else {
        out.push({ ...chunk, pcm: chunk.pcm.subarray(0, take * this.channels) });
        this.#queue[0] = {
          ...chunk,
          pcm: chunk.pcm.subarray(take * this.channels),
          startSample: chunk.startSample + take,
        };
      }
      this.#queuedFrames -= take;
    }
    if (this.#queue.length === 0) {
      const last = out.at(-1);
      const playedTo = last ? last.startSample + last.pcm.length / this.channels : anchor.sample;
      if (playedTo < dueSample) this.#underrun();
    }
    return out;
  }

  /** Drop everything (a seek): the next chunk re-anchors the clock. */
  reset(): void {
    this.#queue = [];
    this.#queuedFrames = 0;
    this.#anchor = undefined;
    this.#lastArrival = undefined;
    this.#state = 'buffering';
  }

  /** Whatever is queued, regardless of its playout time (the stream ended). */
  drain(): PcmChunk[] {
    const out = this.#queue;
    this.reset();
    return out;
  }

  #underrun(): void {
    this.#underruns++;
    this.#underrunBoostMs = Math.min(this.maxTargetMs, this.#underrunBoostMs * 1.5 + 20);
    this.#anchor = undefined;
    this.#state = 'buffering';
  }
}
