/**
 * Where decoded audio goes. The player hands a sink only PCM from blocks that authenticated,
 * already trimmed to the exact sample (pre-skip, seek pre-roll, EOS end trim).
 */
import type { PcmChunk } from '../opus-page-decoder.ts';

export interface PcmSink {
  /** Called in order, never concurrently: the player awaits a returned promise (backpressure). */
  write(chunk: PcmChunk): void | Promise<void>;
  /** Playback is over (any final state); flush and release. */
  close?(): void | Promise<void>;
  /** The jitter-buffer target changed (sinks that buffer on their own, like the worklet). */
  setTargetMs?(ms: number): void;
  /**
   * True when the sink plays in real time from its own buffer (an AudioWorklet): the player then
   * writes as soon as audio is decoded. Otherwise the player can pace writes itself (`pace`).
   */
  readonly ownsClock?: boolean;
}

/** A sink that calls a function with each chunk (tests, custom outputs). */
export class CallbackSink implements PcmSink {
  readonly #onChunk: (chunk: PcmChunk) => void | Promise<void>;
  readonly #onClose: (() => void | Promise<void>) | undefined;

  constructor(
    onChunk: (chunk: PcmChunk) => void | Promise<void>,
    onClose?: () => void | Promise<void>,
  ) {
    this.#onChunk = onChunk;
    this.#onClose = onClose;
  }

  write(chunk: PcmChunk): void | Promise<void> {
    return this.#onChunk(chunk);
  }

  close(): void | Promise<void> {
    return this.#onClose?.();
  }
}

/** Collects everything in memory (tests, short clips). */
export class MemorySink implements PcmSink {
  readonly chunks: PcmChunk[] = [];
  closed = false;

  write(chunk: PcmChunk): void {
    this.chunks.push(chunk);
  }

  close(): void {
    this.closed = true;
  }

  /** All samples, interleaved, in one array. */
  samples(): Int16Array {
    const total = this.chunks.reduce((n, c) => n + c.pcm.length, 0);
    const out = new Int16Array(total);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c.pcm, at);
      at += c.pcm.length;
    }
    return out;
  }
}
