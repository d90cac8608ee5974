/**
 * Writing 16-bit PCM WAVE files: whole (encodeWav) or streamed (WavStreamWriter), whose header
 * is written first with "unknown" sizes (0xFFFFFFFF, as streaming writers do) and patched with
 * `finalHeader()` when the length is known. Node's file helper is in node/wav-file-writer.ts.
 */

import { AudioError } from './audio-error.ts';

export const WAV_HEADER_SIZE = 44;
const UNKNOWN = 0xffffffff;

/** A canonical 44-byte PCM header (format tag 1, 16 bits). `dataBytes` undefined: unknown size. */
export function encodeWavHeader(format: {
  sampleRate: number;
  channels: number;
  dataBytes?: number;
}): Uint8Array {
  const { sampleRate, channels } = format;
  if (!Number.isInteger(sampleRate) || sampleRate <= 0 || sampleRate > 0xffffffff) {
    throw new AudioError(
      'UNSUPPORTED_RATE',
      `sample rate ${sampleRate} cannot be written to a WAVE header`,
    );
  }
  if (!Number.isInteger(channels) || channels < 1 || channels > 0xffff) {
    throw new AudioError(
      'UNSUPPORTED_CHANNELS',
      `channel count ${channels} cannot be written to a WAVE header`,
    );
  }
  const out = new Uint8Array(WAV_HEADER_SIZE);
  const v = new DataView(out.buffer);
  const ascii = (at: number, s: string): void => {
    for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i);
  };
  // RIFF sizes are 32-bit: past 4 GiB the size is left "unknown" (readers then read to the end).
  const data = format.dataBytes;
  const known = data !== undefined && data + 36 <= UNKNOWN;
  ascii(0, 'RIFF');
  v.setUint32(4, known ? data + 36 : UNKNOWN, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true);
  v.setUint16(22, channels, true);
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * channels * 2, true);
  v.setUint16(32, channels * 2, true);
  v.setUint16(34, 16, true);
  ascii(36, 'data');
  v.setUint32(40, known ? data : UNKNOWN, true);
  return out;
}

/** Int16 samples as little-endian bytes (a view when the host is little-endian, else a copy). */
export function int16ToLeBytes(samples: Int16Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
  const out = new Uint8Array(samples.length * 2);
  const v = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) v.setInt16(i * 2, samples[i] as number, true);
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** A whole 16-bit PCM WAVE file. */
export function encodeWav(samples: Int16Array, sampleRate: number, channels: number): Uint8Array {
  if (samples.length % channels !== 0) {
    throw new AudioError(
      'BAD_ARGUMENT',
      `${samples.length} samples are not whole frames of ${channels} channels`,
    );
  }
  const header = encodeWavHeader({ sampleRate, channels, dataBytes: samples.length * 2 });
  const out = new Uint8Array(WAV_HEADER_SIZE + samples.length * 2);
  out.set(header);
  out.set(int16ToLeBytes(samples), WAV_HEADER_SIZE);
  return out;
}

/** Streams a 16-bit PCM WAVE file: `header()`, then `write()`s, then patch with `finalHeader()`. */
export class WavStreamWriter {
  private bytes = 0;

  constructor(readonly format: { sampleRate: number; channels: number }) {
    encodeWavHeader(format); // validates
  }

  /** The header to write first: sizes "unknown" until patched. */
  header(): Uint8Array {
    return encodeWavHeader(this.format);
  }

  /** Bytes to append for these interleaved samples. */
  write(samples: Int16Array): Uint8Array {
    if (samples.length % this.format.channels !== 0) {
      throw new AudioError(
        'BAD_ARGUMENT',
        `${samples.length} samples are not whole frames of ${this.format.channels} channels`,
      );
    }
    this.bytes += samples.length * 2;
    return int16ToLeBytes(samples);
  }

  /** Sample bytes written so far. */
  get dataBytes(): number {
    return this.bytes;
  }

  /** The header with the real sizes, to write over the first 44 bytes. */
  finalHeader(): Uint8Array {
    return encodeWavHeader({ ...this.format, dataBytes: this.bytes });
  }
}
