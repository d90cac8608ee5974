/**
 * @mxcast/audio's CBR encoder feeding @mxcast/ogg's pager, judged by the standard tools: the
 * file is accepted by opusinfo and ffprobe (duration, channels, TITLE), opusdec decodes it to
 * exactly as many samples as went in (pre-skip and end trim honoured, RFC 7845 §4), and the
 * decoded audio is the input's: a tone's frequency and level, a time-coded tone's seconds.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  OpusCbrEncoder,
  PRESETS,
  type PresetName,
  blockGeometry,
  channelOf,
  createSignal,
  estimateFrequency,
  readTimecode,
  readWav,
  rmsDbfs,
  timecodeFrequencyAt,
  TIMECODE_BASE_HZ,
  TIMECODE_STEP_HZ,
} from '@mxcast/audio';
import { OggOpusPager, parseOpusPage } from '@mxcast/ogg';

const dir = mkdtempSync(join(tmpdir(), 'mxcast-opus-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Encoded {
  file: string;
  pages: Uint8Array[];
  inputFrames: number;
}

/** Encodes `seconds` of a signal with a preset, one page per block as capture does. */
function encodeFile(
  name: string,
  preset: PresetName,
  spec: string,
  channels: number,
  seconds: number,
): Encoded {
  const p = PRESETS[preset];
  const enc = new OpusCbrEncoder({
    channels,
    bitrate: p.bitrate,
    frameMs: p.frameMs,
    application: p.application,
  });
  const pager = new OggOpusPager({
    serial: 0x1234,
    channels,
    preSkip: enc.preSkip,
    title: `${name} ✓`,
    vendor: 'mxcast test',
  });
  const src = createSignal(spec, { channels, amplitude: 0.5 });
  const inputFrames = Math.round(seconds * 48000);
  // The decoder drops pre-skip samples at the start (the encoder's delay), so the encoder must
  // be fed pre-skip samples past the input's end; the final granule, preSkip + inputFrames,
  // trims the rest (RFC 7845 §4.4). Decoded length = final granule − pre-skip = inputFrames.
  const need = inputFrames + enc.preSkip;
  const pages = [pager.headPage(), pager.tagsPage()];
  let block: Uint8Array[] = [];
  for (let done = 0; done < need; done += enc.frameSamples) {
    const take = Math.max(0, Math.min(enc.frameSamples, inputFrames - done));
    const frame = new Int16Array(enc.frameSamples * channels);
    frame.set(src.read(take)); // silence after the input's end
    block.push(enc.encode(frame));
    const last = done + enc.frameSamples >= need;
    if (block.length === p.framesPerBlock || last) {
      const endTrim = done + enc.frameSamples - need;
      pages.push(pager.audioPage(block, last ? { eos: true, endTrim } : {}));
      block = [];
    }
  }
  enc.destroy();
  const file = join(dir, `${name}.opus`);
  writeFileSync(file, Buffer.concat(pages));
  return { file, pages, inputFrames };
}

function decode(file: string): ReturnType<typeof readWav> {
  const wav = `${file}.wav`;
  execFileSync('opusdec', ['--quiet', '--rate', '48000', '--no-dither', file, wav]);
  return readWav(new Uint8Array(readFileSync(wav)));
}

function probe(file: string): { channels: number; title?: string; duration: number } {
  const out = JSON.parse(
    execFileSync(
      'ffprobe',
      [
        '-v',
        'error',
        '-show_entries',
        'format=duration:stream=channels,codec_name:stream_tags',
        '-of',
        'json',
        file,
      ],
      { encoding: 'utf8' },
    ),
  ) as {
    streams: { channels: number; codec_name: string; tags?: Record<string, string> }[];
    format: { duration: string };
  };
  const s = out.streams[0];
  expect(s?.codec_name).toBe('opus');
  return {
    channels: s?.channels ?? 0,
    title: s?.tags?.TITLE ?? s?.tags?.title,
    duration: Number(out.format.duration),
  };
}

describe('CBR Opus in mxcast pages, checked by opusinfo / ffprobe / opusdec', () => {
  for (const [preset, channels] of [
    ['voice', 1],
    ['music', 2],
    ['low-latency', 1],
  ] as const) {
    it(`${preset}, ${channels} ch: a 1 kHz tone comes back at its frequency, level and exact length`, () => {
      const seconds = 3.013; // not a whole number of frames or blocks
      const { file, pages, inputFrames } = encodeFile(
        `tone-${preset}`,
        preset,
        'sine:1000',
        channels,
        seconds,
      );
      const geometry = blockGeometry(PRESETS[preset]);
      const audio = pages.slice(2).map((b) => parseOpusPage(b));
      // Every full block's page has the same size; every granule is a whole block further on.
      for (const [i, page] of audio.slice(0, -1).entries()) {
        expect(page.page.bytes.length).toBe(geometry.pageBytes);
        expect(page.page.granule).toBe(BigInt((i + 1) * geometry.blockSamples));
      }

      const info = execFileSync('opusinfo', [file], { encoding: 'utf8' });
      expect(info).not.toMatch(/WARNING|ERROR/);
      expect(info).toContain(`Channels: ${channels}`);
      expect(info).toContain(`TITLE=tone-${preset} ✓`);
      expect(info).toMatch(/Playback length: 0m:03\.01\ds/);
      expect(info).toMatch(
        /Packet duration:\s+20\.0ms \(max\),\s+20\.0ms \(avg\),\s+20\.0ms \(min\)/,
      );

      const p = probe(file);
      expect(p.channels).toBe(channels);
      expect(p.title).toBe(`tone-${preset} ✓`);
      expect(p.duration).toBeCloseTo(seconds, 1);

      const wav = decode(file);
      expect(wav.channels).toBe(channels);
      expect(wav.frameCount).toBe(inputFrames);
      for (let c = 0; c < channels; c++) {
        const ch = channelOf(wav.samples, channels, c).subarray(4800, inputFrames - 4800);
        expect(estimateFrequency(ch, 48000)).toBeCloseTo(1000, 0);
        expect(rmsDbfs(ch)).toBeCloseTo(-9.03, 0);
      }
    });
  }

  it('a time-coded tone lands at the right seconds after encode and decode (voice preset)', () => {
    const seconds = 6;
    const { file } = encodeFile('timecode', 'voice', 'timecode', 1, seconds);
    const wav = decode(file);
    expect(wav.frameCount).toBe(seconds * 48000);
    for (let n = 0; n < seconds; n++) {
      // The middle 600 ms of second n, away from the frequency changes.
      const window = wav.samples.subarray(n * 48000 + 9600, n * 48000 + 38400);
      expect(readTimecode(window, 48000)).toBe(n);
      expect(estimateFrequency(window, 48000)).toBeCloseTo(timecodeFrequencyAt(n + 0.5), -1);
    }
    expect(timecodeFrequencyAt(21.5)).toBe(TIMECODE_BASE_HZ + TIMECODE_STEP_HZ);
  });
});
