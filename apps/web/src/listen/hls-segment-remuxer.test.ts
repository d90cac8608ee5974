import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpusCbrEncoder, PRESETS, createSignal } from '@mxcast/audio';
import {
  BlockWriter,
  createBlockCipher,
  encodeBlock,
  generateEncryptedFile,
  parseBlockHeader,
} from '@mxcast/format';
import { OggOpusPager } from '@mxcast/ogg';
import { beforeAll, describe, expect, it } from 'vitest';
import { HlsSegmentRemuxer, RemuxError } from './hls-segment-remuxer.ts';

const AUDIO_BLOCKS = 16;
const PER_SEGMENT = 6;
const file = generateEncryptedFile('mxc://localhost/remuxtest');

interface Stream {
  bytes: Uint8Array;
  /** Offset and length of each block, by seq. */
  blocks: { offset: number; length: number }[];
}

/** A real broadcast as the web broadcaster writes it: voice preset, 440 Hz, EOS at the end. */
async function buildStream(): Promise<Stream> {
  const preset = PRESETS.voice;
  const encoder = new OpusCbrEncoder({
    channels: 1,
    bitrate: preset.bitrate,
    frameMs: preset.frameMs,
  });
  const pager = new OggOpusPager({ serial: 7, channels: 1, preSkip: encoder.preSkip });
  const writer = new BlockWriter(await createBlockCipher(file));
  const signal = createSignal('sine:440');
  const parts: Uint8Array[] = [
    writer.magic(),
    await writer.write(pager.headPage()),
    await writer.write(pager.tagsPage()),
  ];
  for (let b = 0; b < AUDIO_BLOCKS; b++) {
    const packets = Array.from({ length: preset.framesPerBlock }, () =>
      encoder.encode(signal.read(960)),
    );
    parts.push(await writer.write(pager.audioPage(packets, { eos: b === AUDIO_BLOCKS - 1 })));
  }
  const blocks = parts.slice(1).map((p, i) => ({
    offset: 4 + parts.slice(1, i + 1).reduce((n, q) => n + q.length, 0),
    length: p.length,
  }));
  return { bytes: Buffer.concat(parts), blocks };
}

function range(s: Stream, firstSeq: number, count: number): { bytes: Uint8Array; offset: number } {
  const first = s.blocks[firstSeq]!;
  const last = s.blocks[firstSeq + count - 1]!;
  return { bytes: s.bytes.subarray(first.offset, last.offset + last.length), offset: first.offset };
}

function tfdt(fragment: Uint8Array): bigint {
  const at = Buffer.from(fragment).indexOf('tfdt') + 8;
  return new DataView(fragment.buffer, fragment.byteOffset).getBigUint64(at);
}

let stream: Stream;
beforeAll(async () => {
  stream = await buildStream();
});

describe('HlsSegmentRemuxer', () => {
  it('turns the header range and whole-block segments into fMP4 that ffmpeg decodes to the tone', async () => {
    const remuxer = new HlsSegmentRemuxer(await createBlockCipher(file));
    const headerEnd = stream.blocks[2]!.offset;
    const parts = [await remuxer.init(stream.bytes.subarray(0, headerEnd))];
    expect(remuxer.head?.channels).toBe(1);
    const eos: boolean[] = [];
    for (let seq = 2; seq < stream.blocks.length; seq += PER_SEGMENT) {
      const { bytes, offset } = range(
        stream,
        seq,
        Math.min(PER_SEGMENT, stream.blocks.length - seq),
      );
      const segment = await remuxer.segment(bytes, offset);
      expect(segment.firstSeq).toBe(seq);
      // Decode time = samples before the segment's first page (RFC 7845 granules count from 0).
      expect(tfdt(segment.data)).toBe(BigInt((seq - 2) * 12 * 960));
      eos.push(segment.eos);
      parts.push(segment.data);
    }
    expect(eos).toEqual([false, false, true]); // only the last segment holds the EOS page

    const dir = mkdtempSync(join(tmpdir(), 'mxcast-remux-'));
    const mp4 = join(dir, 'out.mp4');
    writeFileSync(mp4, Buffer.concat(parts));
    const pcm = execFileSync(
      'ffmpeg',
      ['-v', 'error', '-i', mp4, '-f', 's16le', '-ac', '1', '-ar', '48000', '-'],
      {
        maxBuffer: 64 << 20,
      },
    );
    const samples = new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2);
    expect(samples.length / 48000).toBeCloseTo((AUDIO_BLOCKS * 0.24 * 48000 - 312) / 48000, 1);
    let crossings = 0;
    for (let i = 24000; i < 72000; i++) if (samples[i - 1]! < 0 !== samples[i]! < 0) crossings++;
    expect(crossings).toBeGreaterThan(860);
    expect(crossings).toBeLessThan(900);
  });

  it('remuxes segments fetched in any order with their own decode times', async () => {
    const remuxer = new HlsSegmentRemuxer(await createBlockCipher(file));
    await remuxer.init(stream.bytes.subarray(0, stream.blocks[2]!.offset));
    const late = range(stream, 14, 4);
    const early = range(stream, 2, 3);
    expect(tfdt((await remuxer.segment(late.bytes, late.offset)).data)).toBe(BigInt(12 * 12 * 960));
    expect(tfdt((await remuxer.segment(early.bytes, early.offset)).data)).toBe(0n);
  });

  it('refuses a wrong key before anything is played', async () => {
    const other = await createBlockCipher(generateEncryptedFile());
    const remuxer = new HlsSegmentRemuxer(other);
    const error = await remuxer
      .init(stream.bytes.subarray(0, stream.blocks[2]!.offset))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemuxError);
    expect((error as RemuxError).code).toBe('WRONG_KEY');
  });

  it('stops at a tampered block (valid framing and CRC, bad tag) once others authenticated', async () => {
    const remuxer = new HlsSegmentRemuxer(await createBlockCipher(file));
    await remuxer.init(stream.bytes.subarray(0, stream.blocks[2]!.offset));
    const { bytes, offset } = range(stream, 2, PER_SEGMENT);
    const copy = bytes.slice();
    const target = stream.blocks[4]!;
    const at = target.offset - offset;
    const header = parseBlockHeader(copy, at, 'be');
    const ciphertext = copy.slice(at + 16, at + 16 + header.length);
    ciphertext[10]! ^= 0x01;
    copy.set(encodeBlock(4, ciphertext), at); // a fresh CRC: only the GCM tag can tell
    const error = await remuxer.segment(copy, offset).catch((e: unknown) => e);
    expect((error as RemuxError).code).toBe('TAMPERED');
    expect((error as Error).message).toMatch(/block 4/);
  });

  it('names a segment that does not start on a block boundary as a bad stream', async () => {
    const remuxer = new HlsSegmentRemuxer(await createBlockCipher(file));
    await remuxer.init(stream.bytes.subarray(0, stream.blocks[2]!.offset));
    const { bytes, offset } = range(stream, 2, 2);
    const error = await remuxer.segment(bytes.subarray(3), offset + 3).catch((e: unknown) => e);
    expect((error as RemuxError).code).toBe('BAD_STREAM');
  });
});
