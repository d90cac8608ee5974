/**
 * A finished `mxcast capture` downloaded and decrypted (with `mxcast decrypt`) is a valid Ogg Opus
 * file (docs/audio.md "One Ogg page per block"): ffprobe and opusinfo accept it with the right
 * duration, channels and title, and what opusdec decodes matches the input signal in frequency,
 * level and time.
 */
import { describe, expect, it } from 'vitest';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  channelOf,
  estimateFrequency,
  readTimecode,
  rmsDbfs,
  timecodeFrequencyAt,
} from '@mxcast/audio';
import { OggFlag, parseOggPage } from '@mxcast/ogg';
import {
  downloadAndDecrypt,
  ffprobe,
  linkFrom,
  opusdec,
  opusinfo,
  runCapture,
  runMxcast,
  useInProcessRelay,
  tempDir,
  writeTemp,
} from './capture-harness.ts';

const relay = useInProcessRelay();

describe('a finished capture', () => {
  it('is an Ogg Opus file ffprobe/opusinfo accept; opusdec gives the tone back at its level', async () => {
    const dir = tempDir();
    const eventOut = path.join(dir, 'event.json');
    const run = runCapture(relay(), [
      '--input',
      'sine:1000',
      '--channels',
      '2',
      '--preset',
      'music',
      '--duration',
      '3',
      '--title',
      'Tone test ✓',
      '--event-out',
      eventOut,
      '--quiet',
    ]);
    const result = await run.done;
    expect(result.stderr).toMatch(/finished: 00:03\.0 of audio/);
    expect(result.code).toBe(0);
    const link = linkFrom(result.stdout);

    // The event content names the same file and geometry as the link.
    const event = JSON.parse(await readFile(eventOut, 'utf8'));
    expect((await stat(eventOut)).mode & 0o777).toBe(0o600);
    expect(event.msgtype).toBe('m.audio');
    expect(event.body).toBe('Tone test ✓');
    expect(event.info.mimetype).toBe('audio/ogg; codecs=opus');
    expect(event['org.matrix.msc4016.stream']).toMatchObject({
      preset: 'music',
      frame_ms: 20,
      frames_per_block: 3,
      bitrate: 128000,
      block_size: 1025,
      channels: 2,
    });

    const { wire, opus, pages, file } = await downloadAndDecrypt(link);
    expect(event.file.key.k).toBe(file.key.k);
    expect(event.file.url).toBe(file.url);
    const last = parseOggPage(pages.at(-1)!.plaintext);
    expect(last.flags & OggFlag.EOS).toBe(OggFlag.EOS);
    // `mxcast decrypt` with the event content as --info gives the same .opus file.
    const decrypt = runMxcast(['decrypt', '--info', eventOut], wire, process.env, true);
    const decrypted = await decrypt.done;
    expect(decrypted.code).toBe(0);
    expect(Buffer.compare(decrypt.stdoutBytes(), Buffer.from(opus))).toBe(0);
    const opusPath = writeTemp(dir, 'tone.opus', decrypt.stdoutBytes());

    const probe = await ffprobe(opusPath);
    expect(probe.codec).toBe('opus');
    expect(probe.channels).toBe(2);
    // ffprobe's format duration counts the pre-skip (312 samples, 6.5 ms) in; opusinfo does not.
    expect(Math.abs(probe.duration - 3)).toBeLessThanOrEqual(312 / 48000 + 0.001);
    expect(probe.tags.title).toBe('Tone test ✓');

    const info = await opusinfo(opusPath);
    expect(info).not.toMatch(/WARNING|ERROR/i);
    expect(info).toMatch(/Channels: 2/);
    expect(info).toMatch(/Playback length: 0m:03\.0/);

    const decoded = await opusdec(opusPath);
    expect(decoded.channels).toBe(2);
    expect(decoded.samples.length / 2).toBe(3 * 48000);
    const left = channelOf(decoded.samples, 2, 0);
    const middle = left.subarray(48000, 96000);
    expect(estimateFrequency(middle, 48000)).toBeCloseTo(1000, 0);
    // createSignal's default amplitude is 0.5 of full scale: a sine's RMS is −9.03 dBFS.
    expect(rmsDbfs(middle)).toBeGreaterThan(-9.03 - 1);
    expect(rmsDbfs(middle)).toBeLessThan(-9.03 + 1);
  });

  it('puts time-coded tones at the right times', async () => {
    const dir = tempDir();
    const result = await runCapture(relay(), ['--input', 'timecode', '--duration', '5', '--quiet'])
      .done;
    expect(result.code).toBe(0);
    const { opus } = await downloadAndDecrypt(linkFrom(result.stdout));
    const decoded = await opusdec(writeTemp(dir, 'timecode.opus', opus));
    expect(decoded.samples.length).toBe(5 * 48000);
    for (let second = 0; second < 5; second++) {
      // The steady middle of each second: 300 + 50·n Hz (packages/audio timecode).
      const window = decoded.samples.subarray(second * 48000 + 9600, second * 48000 + 38400);
      expect(readTimecode(window, 48000), `second ${second}`).toBe(second);
      expect(estimateFrequency(window, 48000)).toBeCloseTo(timecodeFrequencyAt(second), -1);
    }
  });
});
