import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pageSizeAt, parseOpusPage, type OpusHead } from '@mxcast/ogg';
import { describe, expect, it } from 'vitest';
import { opusFragment, opusInitSegment, type OpusSample } from './opus-fmp4.ts';

/** Top-level and nested boxes as [type, size] pairs, depth-first, for structure checks. */
function boxTypes(bytes: Uint8Array, from = 0, to = bytes.length, out: string[] = []): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const containers = new Set([
    'moov',
    'trak',
    'mdia',
    'minf',
    'stbl',
    'dinf',
    'mvex',
    'moof',
    'traf',
  ]);
  let at = from;
  while (at < to) {
    const size = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    expect(size).toBeGreaterThanOrEqual(8);
    expect(at + size).toBeLessThanOrEqual(to);
    out.push(type);
    if (containers.has(type)) boxTypes(bytes, at + 8, at + size, out);
    if (type === 'stsd') boxTypes(bytes, at + 16, at + size, out);
    if (type === 'Opus') boxTypes(bytes, at + 8 + 28, at + size, out);
    at += size;
  }
  return out;
}

/** A real Ogg Opus file from opusenc: a 440 Hz tone, 3 s, 20 ms frames. */
function realOpusStream(dir: string): {
  head: OpusHead;
  pages: { packets: Uint8Array[]; granule: bigint; samples: number }[];
} {
  const wav = join(dir, 'tone.wav');
  const opus = join(dir, 'tone.opus');
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:duration=3:sample_rate=48000',
    '-ac',
    '1',
    wav,
  ]);
  execFileSync('opusenc', [
    '--quiet',
    '--hard-cbr',
    '--bitrate',
    '32',
    '--framesize',
    '20',
    wav,
    opus,
  ]);
  const bytes = new Uint8Array(readFileSync(opus));
  let head: OpusHead | null = null;
  const pages: { packets: Uint8Array[]; granule: bigint; samples: number }[] = [];
  for (let at = 0; at < bytes.length;) {
    const size = pageSizeAt(bytes, at);
    if (size === null) throw new Error(`no whole page at ${at}`);
    const page = parseOpusPage(bytes.subarray(at, at + size));
    if (page.kind === 'head') head = page.head;
    if (page.kind === 'audio')
      pages.push({ packets: page.packets, granule: page.granule, samples: page.samples });
    at += size;
  }
  if (!head) throw new Error('no OpusHead');
  return { head, pages };
}

describe('opus fMP4', () => {
  it('writes an init segment with the Opus sample entry and dOps', () => {
    const init = opusInitSegment({
      channels: 2,
      preSkip: 312,
      inputSampleRate: 44100,
      outputGain: -256,
      mappingFamily: 0,
    });
    expect(boxTypes(init)).toEqual([
      'ftyp',
      'moov',
      'mvhd',
      'trak',
      'tkhd',
      'mdia',
      'mdhd',
      'hdlr',
      'minf',
      'smhd',
      'dinf',
      'dref',
      'stbl',
      'stsd',
      'Opus',
      'dOps',
      'stts',
      'stsc',
      'stsz',
      'stco',
      'mvex',
      'trex',
    ]);
    // dOps: version 0, channels, pre-skip, input rate and gain, big-endian (Opus-in-ISOBMFF §4.3.2).
    const at = Buffer.from(init).indexOf('dOps') + 4;
    const view = new DataView(init.buffer, init.byteOffset + at);
    expect([
      view.getUint8(0),
      view.getUint8(1),
      view.getUint16(2),
      view.getUint32(4),
      view.getInt16(8),
      view.getUint8(10),
    ]).toEqual([0, 2, 312, 44100, -256, 0]);
  });

  it('points the trun data offset at the first sample in mdat', () => {
    const samples: OpusSample[] = [
      { data: new Uint8Array([1, 2, 3]), duration: 960 },
      { data: new Uint8Array([4, 5]), duration: 960 },
    ];
    const frag = opusFragment(7, 96000n, samples);
    expect(boxTypes(frag)).toEqual(['moof', 'mfhd', 'traf', 'tfhd', 'tfdt', 'trun', 'mdat']);
    const trunAt = Buffer.from(frag).indexOf('trun') + 4;
    const view = new DataView(frag.buffer, frag.byteOffset);
    const dataOffset = view.getUint32(trunAt + 8);
    expect(Array.from(frag.subarray(dataOffset, dataOffset + 5))).toEqual([1, 2, 3, 4, 5]);
    const tfdtAt = Buffer.from(frag).indexOf('tfdt') + 4;
    expect(view.getBigUint64(tfdtAt + 4)).toBe(96000n);
  });

  it('remuxes a real Ogg Opus stream that ffmpeg decodes back to the tone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mxcast-fmp4-'));
    const { head, pages } = realOpusStream(dir);
    const parts: Uint8Array[] = [opusInitSegment(head)];
    // Two fragments, split in the middle, each with its own decode time from the granules.
    const half = Math.floor(pages.length / 2);
    for (const [n, group] of [pages.slice(0, half), pages.slice(half)].entries()) {
      const first = group[0]!;
      const start = first.granule - BigInt(first.samples);
      const samples = group.flatMap((p) => p.packets.map((data) => ({ data, duration: 960 })));
      parts.push(opusFragment(n + 1, start, samples));
    }
    const mp4 = join(dir, 'tone.mp4');
    writeFileSync(mp4, Buffer.concat(parts));
    const probe = JSON.parse(
      execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', mp4], {
        encoding: 'utf8',
      }),
    ) as { streams: { codec_name: string; sample_rate: string; channels: number }[] };
    expect(probe.streams[0]).toMatchObject({
      codec_name: 'opus',
      sample_rate: '48000',
      channels: 1,
    });
    const pcm = execFileSync(
      'ffmpeg',
      ['-v', 'error', '-i', mp4, '-f', 's16le', '-ac', '1', '-ar', '48000', '-'],
      {
        maxBuffer: 64 << 20,
      },
    );
    const samples = new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2);
    expect(samples.length / 48000).toBeGreaterThan(2.9);
    // Count zero crossings over one second in the middle: a 440 Hz tone crosses ~880 times.
    let crossings = 0;
    for (let i = 48000; i < 96000; i++) if (samples[i - 1]! < 0 !== samples[i]! < 0) crossings++;
    expect(crossings).toBeGreaterThan(860);
    expect(crossings).toBeLessThan(900);
  });
});
