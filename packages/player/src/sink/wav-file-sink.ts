/**
 * Node sinks: a WAV file (RIFF/WAVE, PCM 16-bit, 48 kHz) written as audio arrives, its sizes
 * patched in on close so the file is a proper WAV even for a live broadcast; and raw PCM to any
 * Node writable (`mxcast listen --out -`, a pipe to aplay). Node-only: exported from
 * `@mxcast/player/node`, never from the browser-safe core.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { PcmChunk } from '../opus-page-decoder.ts';
import { OPUS_RATE } from '../stream-geometry.ts';
import type { PcmSink } from './pcm-sink.ts';

const WAV_HEADER_SIZE = 44;

/** The canonical 44-byte header of a 16-bit PCM WAV file (RIFF, fmt chunk of 16, data chunk). */
export function wavHeader(channels: number, dataBytes: number, sampleRate = OPUS_RATE): Uint8Array {
  const h = new Uint8Array(WAV_HEADER_SIZE);
  const dv = new DataView(h.buffer);
  const ascii = (at: number, s: string) => {
    for (let i = 0; i < s.length; i++) h[at + i] = s.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  dv.setUint32(4, 36 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  dv.setUint32(16, 16, true);
  dv.setUint16(20, 1, true); // PCM
  dv.setUint16(22, channels, true);
  dv.setUint32(24, sampleRate, true);
  dv.setUint32(28, sampleRate * channels * 2, true);
  dv.setUint16(32, channels * 2, true);
  dv.setUint16(34, 16, true);
  ascii(36, 'data');
  dv.setUint32(40, dataBytes, true);
  return h;
}

/** Little-endian bytes of interleaved 16-bit PCM (WAV and `s16le` raw output). */
export function pcmBytes(pcm: Int16Array): Uint8Array {
  const out = new Uint8Array(pcm.length * 2);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < pcm.length; i++) dv.setInt16(i * 2, pcm[i] as number, true);
  return out;
}

export class WavFileSink implements PcmSink {
  readonly path: string;
  #file: FileHandle | undefined;
  #channels: number | undefined;
  #dataBytes = 0;

  constructor(path: string) {
    this.path = path;
  }

  async write(chunk: PcmChunk): Promise<void> {
    if (!this.#file) {
      this.#file = await open(this.path, 'w');
      this.#channels = chunk.channels;
      await this.#file.write(wavHeader(chunk.channels, 0), 0, WAV_HEADER_SIZE, 0);
    }
    const bytes = pcmBytes(chunk.pcm);
    await this.#file.write(bytes, 0, bytes.length, WAV_HEADER_SIZE + this.#dataBytes);
    this.#dataBytes += bytes.length;
  }

  /** Writes the final sizes into the header (an empty but valid WAV if nothing played). */
  async close(): Promise<void> {
    const file = this.#file ?? (await open(this.path, 'w'));
    this.#file = undefined;
    await file.write(wavHeader(this.#channels ?? 1, this.#dataBytes), 0, WAV_HEADER_SIZE, 0);
    await file.close();
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
      const room = out.write(pcmBytes(chunk.pcm), (err) => {
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
