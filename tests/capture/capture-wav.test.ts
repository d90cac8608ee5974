/**
 * WAV input: 16-bit, 24-bit and float files, mono and stereo, at 48 kHz and at rates that need
 * resampling, come out of the broadcast with their tone and their length (at 48 kHz).
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { channelOf, estimateFrequency, resample } from '@mxcast/audio';
import { CaptureSession, createOpusEncoder, openCaptureSource } from '@mxcast/capture';
import {
  downloadAndDecrypt,
  opusdec,
  useInProcessRelay,
  tempDir,
  writeTemp,
} from './capture-harness.ts';

const relay = useInProcessRelay();

/** A RIFF/WAVE file with the given sample encoding (RFC 2361; tag 1 PCM, 3 IEEE float). */
function wavFile(
  samples: Float32Array,
  rate: number,
  channels: number,
  bits: 16 | 24 | 32,
  float: boolean,
): Uint8Array {
  const bytesPer = bits / 8;
  const data = Buffer.alloc(samples.length * bytesPer);
  samples.forEach((v, i) => {
    if (float) data.writeFloatLE(v, i * 4);
    else if (bits === 16) data.writeInt16LE(Math.round(v * 32767), i * 2);
    else data.writeIntLE(Math.round(v * 8388607), i * 3, 3);
  });
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(float ? 3 : 1, 20);
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * channels * bytesPer, 28);
  header.writeUInt16LE(channels * bytesPer, 32);
  header.writeUInt16LE(bits, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

function tone(rate: number, channels: number, seconds: number, hz: number): Float32Array {
  const frames = Math.round(rate * seconds);
  const out = new Float32Array(frames * channels);
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++)
      out[i * channels + c] = 0.4 * Math.sin((2 * Math.PI * hz * i) / rate);
  }
  return out;
}

describe('WAV input', () => {
  const cases = [
    { bits: 16, float: false, rate: 48000, channels: 1 },
    { bits: 24, float: false, rate: 44100, channels: 2 },
    { bits: 32, float: true, rate: 12000, channels: 1 },
  ] as const;
  for (const c of cases) {
    it(`${c.bits}-bit ${c.float ? 'float' : 'int'}, ${c.rate} Hz, ${c.channels} ch`, async () => {
      const dir = tempDir();
      const input = tone(c.rate, c.channels, 1.3, 600);
      const file = path.join(dir, 'in.wav');
      writeFileSync(file, wavFile(input, c.rate, c.channels, c.bits, c.float));
      const source = await openCaptureSource(file, { channels: 1 });
      expect(source.channels).toBe(c.channels);
      const result = await new CaptureSession({
        relay: relay().url,
        token: relay().token,
        preset: 'music',
        source,
        createEncoder: createOpusEncoder,
        title: 'wav',
        realtime: false,
      }).run();
      const expected =
        c.rate === 48000 ? input.length : resample(input, c.rate, 48000, c.channels).length;
      expect(result.samples * c.channels).toBe(expected);
      const { opus } = await downloadAndDecrypt(result.link);
      const decoded = await opusdec(writeTemp(dir, 'out.opus', opus));
      expect(decoded.channels).toBe(c.channels);
      expect(decoded.samples.length).toBe(expected);
      const mono = channelOf(decoded.samples, c.channels, 0).subarray(12000, 48000);
      expect(estimateFrequency(mono, 48000)).toBeCloseTo(600, 0);
    });
  }
});
