/**
 * RIFF/WAVE parsing (Microsoft RIFF spec; WAVE_FORMAT_EXTENSIBLE per the Windows multimedia
 * docs): integer PCM of 8/16/24/32 bits and IEEE float of 32/64 bits, any channel count and
 * rate. Chunks other than "fmt " and "data" are skipped (odd sizes padded to even, as RIFF says).
 * A data chunk whose size is 0, 0xFFFFFFFF (streaming writers) or past the end of the bytes is
 * read to the end of what is there, in whole frames, and marked `truncated` when it was short.
 */

import { AudioError } from './audio-error.ts';

export interface WavFormat {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  sampleFormat: 'int' | 'float';
  /** Bytes per frame (all channels). */
  blockAlign: number;
  /** The format tag as stored: 1 PCM, 3 IEEE float, 0xFFFE extensible. */
  formatTag: number;
}

export interface WavHeader extends WavFormat {
  /** Byte offset of the first sample. */
  dataOffset: number;
  /** Bytes of samples available from dataOffset (whole frames). */
  dataLength: number;
  frameCount: number;
  /** The data chunk declared more bytes than the input holds. */
  truncated: boolean;
}

export interface WavData extends WavHeader {
  /** Interleaved samples scaled to −1…1. */
  samples: Float32Array;
}

const FORMAT_NAMES: Record<number, string> = {
  2: 'Microsoft ADPCM',
  6: 'A-law',
  7: 'µ-law',
  0x11: 'IMA ADPCM',
  0x55: 'MPEG layer 3',
};
// KSDATAFORMAT_SUBTYPE_* GUIDs end with these 14 bytes after the 2-byte format code.
const GUID_TAIL = [
  0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
];

function fourcc(b: Uint8Array, at: number): string {
  return String.fromCharCode(...b.subarray(at, at + 4));
}

function parseFmt(b: Uint8Array, at: number, size: number): WavFormat {
  if (size < 16)
    throw new AudioError(
      'WAV_NO_FORMAT',
      `the "fmt " chunk has ${size} bytes; at least 16 are needed`,
    );
  const v = new DataView(b.buffer, b.byteOffset + at, size);
  let tag = v.getUint16(0, true);
  const formatTag = tag;
  const channels = v.getUint16(2, true);
  const sampleRate = v.getUint32(4, true);
  const blockAlign = v.getUint16(12, true);
  const bitsPerSample = v.getUint16(14, true);
  if (tag === 0xfffe) {
    if (size < 40)
      throw new AudioError(
        'WAV_NO_FORMAT',
        `a WAVE_FORMAT_EXTENSIBLE "fmt " chunk has ${size} bytes, not 40`,
      );
    tag = v.getUint16(24, true);
    for (let i = 0; i < 14; i++) {
      if (v.getUint8(26 + i) !== GUID_TAIL[i]) {
        throw new AudioError(
          'WAV_UNSUPPORTED_FORMAT',
          'WAVE_FORMAT_EXTENSIBLE with a sub-format GUID that is not PCM or IEEE float',
        );
      }
    }
  }
  const where = formatTag === 0xfffe ? ' (in WAVE_FORMAT_EXTENSIBLE)' : '';
  let sampleFormat: 'int' | 'float';
  if (tag === 1 && [8, 16, 24, 32].includes(bitsPerSample)) sampleFormat = 'int';
  else if (tag === 3 && (bitsPerSample === 32 || bitsPerSample === 64)) sampleFormat = 'float';
  else if (tag === 1 || tag === 3) {
    throw new AudioError(
      'WAV_UNSUPPORTED_FORMAT',
      `${tag === 1 ? 'integer PCM' : 'float'} of ${bitsPerSample} bits${where} is not supported (PCM 8/16/24/32, float 32/64)`,
    );
  } else {
    const name = FORMAT_NAMES[tag] ?? 'an unknown encoding';
    throw new AudioError(
      'WAV_UNSUPPORTED_FORMAT',
      `format tag 0x${tag.toString(16).padStart(4, '0')} (${name})${where} is not supported; convert to PCM or float WAV`,
    );
  }
  if (channels === 0)
    throw new AudioError('UNSUPPORTED_CHANNELS', 'the WAVE file declares 0 channels');
  if (sampleRate === 0)
    throw new AudioError('UNSUPPORTED_RATE', 'the WAVE file declares a sample rate of 0 Hz');
  if (blockAlign !== (channels * bitsPerSample) / 8) {
    throw new AudioError(
      'WAV_NO_FORMAT',
      `block align ${blockAlign} does not match ${channels} channels × ${bitsPerSample} bits`,
    );
  }
  return { sampleRate, channels, bitsPerSample, sampleFormat, blockAlign, formatTag };
}

/**
 * Reads the header up to the start of the samples. Returns null when the bytes end before the
 * "data" chunk starts (give it more of the file); throws AudioError when it is not a WAVE file
 * this reader handles.
 */
export function parseWavHeader(bytes: Uint8Array): WavHeader | null {
  if (bytes.length < 12)
    return bytes.length >= 4 && fourcc(bytes, 0) !== 'RIFF' ? notWav(bytes) : null;
  if (fourcc(bytes, 0) !== 'RIFF' || fourcc(bytes, 8) !== 'WAVE') return notWav(bytes);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let format: WavFormat | null = null;
  let at = 12;
  while (at + 8 <= bytes.length) {
    const id = fourcc(bytes, at);
    const size = v.getUint32(at + 4, true);
    const body = at + 8;
    if (id === 'data') {
      if (format === null)
        throw new AudioError('WAV_NO_FORMAT', 'the "data" chunk comes before any "fmt " chunk');
      const available = bytes.length - body;
      const declared = size === 0 || size === 0xffffffff ? available : size;
      const usable = Math.min(declared, available);
      const dataLength = usable - (usable % format.blockAlign);
      return {
        ...format,
        dataOffset: body,
        dataLength,
        frameCount: dataLength / format.blockAlign,
        truncated: declared > available,
      };
    }
    if (body + size > bytes.length) return null; // a chunk before the data, not all here yet
    if (id === 'fmt ') format = parseFmt(bytes, body, size);
    at = body + size + (size & 1);
  }
  return null;
}

function notWav(bytes: Uint8Array): never {
  const head = Array.from(bytes.subarray(0, 4), (x) =>
    x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.',
  ).join('');
  throw new AudioError('NOT_WAV', `not a RIFF/WAVE file (it starts with "${head}")`);
}

/** Samples of `data` (whole frames of the given format) as interleaved floats in −1…1. */
export function decodeWavSamples(data: Uint8Array, format: WavFormat): Float32Array {
  const bytesPer = format.bitsPerSample / 8;
  const n = Math.floor(data.length / bytesPer);
  const out = new Float32Array(n);
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (format.sampleFormat === 'float') {
    for (let i = 0; i < n; i++)
      out[i] = bytesPer === 4 ? v.getFloat32(i * 4, true) : v.getFloat64(i * 8, true);
    return out;
  }
  switch (format.bitsPerSample) {
    case 8: // 8-bit WAV is unsigned, centred on 128
      for (let i = 0; i < n; i++) out[i] = ((data[i] as number) - 128) / 128;
      break;
    case 16:
      for (let i = 0; i < n; i++) out[i] = v.getInt16(i * 2, true) / 32768;
      break;
    case 24:
      for (let i = 0; i < n; i++) {
        const j = i * 3;
        const x =
          (data[j] as number) | ((data[j + 1] as number) << 8) | ((data[j + 2] as number) << 16);
        out[i] = ((x << 8) >> 8) / 8388608;
      }
      break;
    default:
      for (let i = 0; i < n; i++) out[i] = v.getInt32(i * 4, true) / 2147483648;
  }
  return out;
}

/** Parses a whole WAVE file into its format and float samples. */
export function readWav(bytes: Uint8Array): WavData {
  const header = parseWavHeader(bytes);
  if (header === null) {
    throw new AudioError(
      'WAV_NO_DATA',
      `the WAVE file (${bytes.length} bytes) has no "data" chunk`,
    );
  }
  const data = bytes.subarray(header.dataOffset, header.dataOffset + header.dataLength);
  return { ...header, samples: decodeWavSamples(data, header) };
}
