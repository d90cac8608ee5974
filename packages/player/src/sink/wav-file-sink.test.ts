import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { RawPcmSink, WavFileSink } from './wav-file-sink.ts';

const dir = mkdtempSync(join(tmpdir(), 'mxcast-wav-sink-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('WavFileSink', () => {
  it('writes a WAV that ffprobe reads as 48 kHz 16-bit with every sample written', async () => {
    const path = join(dir, 'a.wav');
    const sink = new WavFileSink(path);
    const pcm = Int16Array.from({ length: 4800 * 2 }, (_, i) => (i * 37) % 30000);
    await sink.write({ pcm: pcm.subarray(0, 4000), channels: 2, startSample: 0 });
    await sink.write({ pcm: pcm.subarray(4000), channels: 2, startSample: 2000 });
    await sink.close();
    const probe = JSON.parse(
      execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', path]).toString(),
    ) as {
      streams: { sample_rate: string; channels: number; codec_name: string; duration_ts: number }[];
    };
    expect(probe.streams[0]).toMatchObject({
      sample_rate: '48000',
      channels: 2,
      codec_name: 'pcm_s16le',
      duration_ts: 4800,
    });
    const bytes = readFileSync(path);
    expect(
      Array.from(
        new Int16Array(bytes.buffer.slice(bytes.byteOffset + 44, bytes.byteOffset + bytes.length)),
      ),
    ).toEqual(Array.from(pcm));
  });

  it('leaves a valid empty WAV when nothing played', async () => {
    const path = join(dir, 'empty.wav');
    await new WavFileSink(path).close();
    expect(readFileSync(path).length).toBe(44);
    expect(() => execFileSync('ffprobe', ['-v', 'error', path])).not.toThrow();
  });
});

describe('RawPcmSink', () => {
  it('writes s16le bytes', async () => {
    const out = new PassThrough();
    const got: Buffer[] = [];
    out.on('data', (d: Buffer) => got.push(d));
    const sink = new RawPcmSink(out, { end: true });
    await sink.write({ pcm: Int16Array.of(1, -2, 300), channels: 1, startSample: 0 });
    await sink.close();
    expect(Array.from(Buffer.concat(got))).toEqual([1, 0, 0xfe, 0xff, 0x2c, 0x01]);
  });
});
