/**
 * Node sinks: a WAV file (RIFF/WAVE, PCM 16-bit, 48 kHz) written as audio arrives, its sizes
 * patched in on close so the file is a proper WAV even for a live broadcast; and raw PCM to any
 * Node writable (`mxcast listen --out -`, a pipe to aplay). Node-only: exported from
 * `@mxcast/player/node`, never from the browser-safe core.
 */
import type { Writable } from 'node:stream';
import { int16ToLeBytes } from '@mxcast/audio';
import { WavFileWriter } from '@mxcast/audio/node';
import type { PcmChunk } from '../opus-page-decoder.ts';
import { OPUS_RATE } from '../stream-geometry.ts';
import type { PcmSink } from './pcm-sink.ts';

/**
 * @mxcast/audio's WAV file writer behind the sink interface: the file is opened on the first
 * chunk (when the channel count is known) and its header patched with the sizes on close.
 */
export class WavFileSink implements PcmSink {
  readonly path: string;
  #writer: WavFileWriter | undefined;

  constructor(path: string) {
    this.path = path;
  }

  async write(chunk: PcmChunk): Promise<void> {
    this.#writer ??= await WavFileWriter.create(this.path, {
      sampleRate: OPUS_RATE,
      channels: chunk.channels,
    });
    await this.#writer.write(chunk.pcm);
  }

  /** Writes the final sizes into the header (an empty but valid WAV if nothing played). */
  async close(): Promise<void> {
    const writer =
      this.#writer ??
      (await WavFileWriter.create(this.path, { sampleRate: OPUS_RATE, channels: 1 }));
    this.#writer = undefined;
    await writer.close();
  }
}

/**
 * Raw s16le PCM to a Node writable, honouring its backpressure. A reader that went away (`| head`,
 * a player that quit: EPIPE) makes the next write throw, so the listener stops instead of decoding
 * into a closed pipe forever. The failure is taken from each write's own callback: process.stdout
 * may report EPIPE only there (it is never destroyed, and its 'error' may be swallowed), and a
 * stream that already failed emits no further 'drain' or 'error' to wait for.
 */
export class RawPcmSink implements PcmSink {
  readonly #out: Writable;
  readonly #endStream: boolean;
  #failure: Error | null = null;

  constructor(out: Writable, options: { end?: boolean } = {}) {
    this.#out = out;
    this.#endStream = options.end ?? false;
    // Kept, not thrown: the next write() reports it (an unhandled 'error' would end the process).
    out.on('error', (err: Error) => (this.#failure ??= err));
  }

  async write(chunk: PcmChunk): Promise<void> {
    const out = this.#out;
    const failure =
      this.#failure ?? out.errored ?? (out.writable ? null : new Error('the stream has ended'));
    if (failure) throw new Error(`the PCM output is closed (${failure.message})`);
    await new Promise<void>((resolve) => {
      // Writable callbacks run after write() returns, so `room` is set when this one runs.
      // A copy: the stream may hold the bytes after this returns, and the caller's samples are
      // not promised to stay as they are.
      const room = out.write(int16ToLeBytes(chunk.pcm).slice(), (err) => {
        if (err) this.#failure ??= err;
        // Over the high-water mark: wait for this chunk to be flushed (or to fail).
        if (!room) resolve();
      });
      if (room) resolve();
    });
  }

  async close(): Promise<void> {
    const out = this.#out;
    // A failed stream may never call end()'s callback (an errored one not yet destroyed queues
    // it for a 'finish' that cannot come): nothing is left to flush there anyway.
    if (!this.#endStream || this.#failure || out.errored || out.destroyed) return;
    await new Promise<void>((resolve) => {
      out.once('close', resolve);
      out.once('error', resolve);
      out.end(() => resolve());
    });
  }
}
