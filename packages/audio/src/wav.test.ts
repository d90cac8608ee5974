import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAudioError } from './audio-error.ts';
import { estimateFrequency } from './frequency.ts';
import { WavFileWriter } from './node/wav-file-writer.ts';
import { channelOf, floatToInt16 } from './pcm.ts';
import { createSignal } from './test-signals.ts';
import { parseWavHeader, readWav } from './wav-reader.ts';
import { WavStreamWriter, encodeWav } from './wav-writer.ts';

const dir = mkdtempSync(join(tmpdir(), 'mxcast-wav-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A WAV written by ffmpeg (an independent writer): a sine on the left, 2 × f on the right. */
function ffmpegWav(name: string, args: string[], f = 500, rate = 48000, channels = 1): Uint8Array {
  const out = join(dir, name);
  const input =
    channels === 1
      ? ['-f', 'lavfi', '-i', `sine=f=${f}:d=0.5:sample_rate=${rate}`]
      : [
          '-f',
          'lavfi',
          '-i',
          `sine=f=${f}:d=0.5:sample_rate=${rate}`,
          '-f',
          'lavfi',
          '-i',
          `sine=f=${2 * f}:d=0.5:sample_rate=${rate}`,
        ];
  const merge = channels === 1 ? [] : ['-filter_complex', '[0:a][1:a]amerge=inputs=2'];
  execFileSync('ffmpeg', ['-v', 'error', '-y', ...input, ...merge, ...args, out]);
  return new Uint8Array(readFileSync(out));
}

function code(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return isAudioError(err) ? `${err.code}: ${err.message}` : `other: ${String(err)}`;
  }
  return 'no error';
}

describe('readWav', () => {
  const cases = [
    {
      name: 's16-mono-8k.wav',
      args: ['-c:a', 'pcm_s16le'],
      rate: 8000,
      channels: 1,
      bits: 16,
      fmt: 'int',
    },
    {
      name: 's16-stereo-16k.wav',
      args: ['-c:a', 'pcm_s16le'],
      rate: 16000,
      channels: 2,
      bits: 16,
      fmt: 'int',
    },
    {
      name: 's24-stereo-44k.wav',
      args: ['-c:a', 'pcm_s24le'],
      rate: 44100,
      channels: 2,
      bits: 24,
      fmt: 'int',
    },
    {
      name: 's24-mono-12k.wav',
      args: ['-c:a', 'pcm_s24le'],
      rate: 12000,
      channels: 1,
      bits: 24,
      fmt: 'int',
    },
    {
      name: 'f32-stereo-48k.wav',
      args: ['-c:a', 'pcm_f32le'],
      rate: 48000,
      channels: 2,
      bits: 32,
      fmt: 'float',
    },
    {
      name: 'f32-mono-24k.wav',
      args: ['-c:a', 'pcm_f32le'],
      rate: 24000,
      channels: 1,
      bits: 32,
      fmt: 'float',
    },
    {
      name: 'u8-mono-8k.wav',
      args: ['-c:a', 'pcm_u8'],
      rate: 8000,
      channels: 1,
      bits: 8,
      fmt: 'int',
    },
    {
      name: 's32-mono-48k.wav',
      args: ['-c:a', 'pcm_s32le'],
      rate: 48000,
      channels: 1,
      bits: 32,
      fmt: 'int',
    },
    {
      name: 'f64-mono-48k.wav',
      args: ['-c:a', 'pcm_f64le'],
      rate: 48000,
      channels: 1,
      bits: 64,
      fmt: 'float',
    },
  ] as const;
  for (const c of cases) {
    it(`reads ffmpeg's ${c.name}: format, length, and each channel's tone`, () => {
      const wav = readWav(ffmpegWav(c.name, [...c.args], 500, c.rate, c.channels));
      expect(wav).toMatchObject({
        sampleRate: c.rate,
        channels: c.channels,
        bitsPerSample: c.bits,
        sampleFormat: c.fmt,
        truncated: false,
      });
      expect(wav.frameCount).toBe(c.rate / 2);
      expect(wav.samples.length).toBe(wav.frameCount * c.channels);
      for (let ch = 0; ch < c.channels; ch++) {
        expect(estimateFrequency(channelOf(wav.samples, c.channels, ch), c.rate)).toBeCloseTo(
          500 * (ch + 1),
          0,
        );
      }
      // ffmpeg's sine source has amplitude 1/8.
      const peak = wav.samples.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      expect(peak).toBeCloseTo(0.125, 2);
    });
  }

  it('reads WAVE_FORMAT_EXTENSIBLE (as ffmpeg writes for 24-bit with a channel layout)', () => {
    const bytes = ffmpegWav(
      'ext.wav',
      ['-c:a', 'pcm_s24le', '-rf64', 'never', '-write_bext', '0', '-ac', '2'],
      500,
      48000,
      2,
    );
    const wav = readWav(bytes);
    expect(wav.formatTag).toBe(0xfffe);
    expect(wav).toMatchObject({ channels: 2, bitsPerSample: 24, sampleFormat: 'int' });
    expect(estimateFrequency(channelOf(wav.samples, 2, 1), 48000)).toBeCloseTo(1000, 0);
  });

  it('names unsupported encodings, non-WAV input and missing chunks', () => {
    expect(code(() => readWav(ffmpegWav('alaw.wav', ['-c:a', 'pcm_alaw'], 500, 8000)))).toMatch(
      /WAV_UNSUPPORTED_FORMAT: format tag 0x0006 \(A-law\)/,
    );
    expect(code(() => readWav(new TextEncoder().encode('ID3\x04 an mp3 file')))).toMatch(
      /NOT_WAV: .*"ID3\."/,
    );
    const good = encodeWav(new Int16Array(8), 8000, 2);
    expect(code(() => readWav(good.subarray(0, 36)))).toMatch(/WAV_NO_DATA/);
    const noFmt = good.slice();
    noFmt.set(new TextEncoder().encode('junk'), 12);
    expect(code(() => readWav(noFmt))).toMatch(/WAV_NO_FORMAT: the "data" chunk comes before/);
    const badAlign = good.slice();
    badAlign[32] = 3;
    expect(code(() => readWav(badAlign))).toMatch(
      /block align 3 does not match 2 channels × 16 bits/,
    );
  });

  it('reads a data chunk cut short (or of unknown size) to the last whole frame', () => {
    const full = encodeWav(
      Int16Array.from({ length: 200 }, (_, i) => i - 100),
      16000,
      2,
    );
    const cut = readWav(full.subarray(0, full.length - 3));
    expect(cut.truncated).toBe(true);
    expect(cut.frameCount).toBe(99);
    expect(Array.from(floatToInt16(cut.samples.subarray(0, 4)))).toEqual([-100, -99, -98, -97]);
    const streamed = full.slice();
    new DataView(streamed.buffer).setUint32(40, 0xffffffff, true);
    expect(readWav(streamed)).toMatchObject({ frameCount: 100, truncated: false });
  });

  it('returns null from parseWavHeader until the data chunk starts, whatever the cut', () => {
    const bytes = ffmpegWav('hdr.wav', ['-c:a', 'pcm_s16le']);
    const full = parseWavHeader(bytes);
    expect(full).not.toBeNull();
    const offset = (full as { dataOffset: number }).dataOffset;
    for (let cut = 0; cut < offset; cut++)
      expect(parseWavHeader(bytes.subarray(0, cut))).toBeNull();
    expect(parseWavHeader(bytes.subarray(0, offset))).toMatchObject({
      dataOffset: offset,
      frameCount: 0,
    });
  });
});

describe('writing WAV', () => {
  it('encodeWav round-trips through readWav exactly, and ffprobe agrees on its format', () => {
    const pcm = createSignal('sine:1000', { channels: 2, sampleRate: 24000 }).read(24000);
    const bytes = encodeWav(pcm, 24000, 2);
    const wav = readWav(bytes);
    expect(floatToInt16(wav.samples)).toEqual(pcm);
    const file = join(dir, 'ours.wav');
    execFileSync('sh', ['-c', `cat > ${file}`], { input: bytes });
    const probe = execFileSync(
      'ffprobe',
      [
        '-v',
        'error',
        '-show_entries',
        'stream=sample_rate,channels,codec_name:format=duration',
        '-of',
        'json',
        file,
      ],
      { encoding: 'utf8' },
    );
    expect(JSON.parse(probe)).toMatchObject({
      streams: [{ codec_name: 'pcm_s16le', sample_rate: '24000', channels: 2 }],
      format: { duration: '1.000000' },
    });
  });

  it('streams with unknown sizes, then patches them (WavStreamWriter, WavFileWriter)', async () => {
    const w = new WavStreamWriter({ sampleRate: 8000, channels: 1 });
    const parts = [w.header(), w.write(Int16Array.of(1, 2, 3)), w.write(Int16Array.of(4))];
    const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      joined.set(p, at);
      at += p.length;
    }
    expect(readWav(joined).frameCount).toBe(4); // unknown size: read to the end
    joined.set(w.finalHeader(), 0);
    expect(new DataView(joined.buffer).getUint32(40, true)).toBe(8);
    expect(floatToInt16(readWav(joined).samples)).toEqual(Int16Array.of(1, 2, 3, 4));

    const path = join(dir, 'file-writer.wav');
    const fw = await WavFileWriter.create(path, { sampleRate: 48000, channels: 2 });
    const src = createSignal('sine:440', { channels: 2 });
    for (let i = 0; i < 10; i++) await fw.write(src.read(4800));
    await fw.close();
    const probe = execFileSync(
      'ffprobe',
      ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', path],
      {
        encoding: 'utf8',
      },
    );
    expect(Number(probe)).toBeCloseTo(1, 3);
    expect(readWav(new Uint8Array(readFileSync(path))).frameCount).toBe(48000);
  });
});
