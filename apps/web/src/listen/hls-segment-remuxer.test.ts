import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpusCbrEncoder, PRESETS, createSignal } from '@mxcast/audio';
import {
  BlockWriter,
  createBlockCipher,
  createScheduleCipher,
  encodeBlock,
  epochFromFile,
  generateEncryptedFile,
  generateEpoch,
  parseBlockHeader,
  type BlockCipher,
} from '@mxcast/format';
import { OggOpusPager } from '@mxcast/ogg';
import { EpochKeyRing } from '@mxcast/player';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SegmentPlan } from './hls-segment-plan.ts';
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
async function buildStream(cipher?: BlockCipher): Promise<Stream> {
  const preset = PRESETS.voice;
  const encoder = new OpusCbrEncoder({
    channels: 1,
    bitrate: preset.bitrate,
    frameMs: preset.frameMs,
  });
  const pager = new OggOpusPager({ serial: 7, channels: 1, preSkip: encoder.preSkip });
  const writer = new BlockWriter(cipher ?? (await createBlockCipher(file)));
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

/** Segment `sn` of PER_SEGMENT blocks from block 2 on (the last one, the tail, is shorter). */
function plan(sn: number): SegmentPlan {
  const firstSeq = 2 + sn * PER_SEGMENT;
  return { sn, firstSeq, blocks: PER_SEGMENT, tail: firstSeq + PER_SEGMENT >= AUDIO_BLOCKS + 2 };
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
      const segment = await remuxer.segment(bytes, offset, plan((seq - 2) / PER_SEGMENT));
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
    const early = range(stream, 2, PER_SEGMENT);
    expect(tfdt((await remuxer.segment(late.bytes, late.offset, plan(2))).data)).toBe(
      BigInt(12 * 12 * 960),
    );
    expect(tfdt((await remuxer.segment(early.bytes, early.offset, plan(0))).data)).toBe(0n);
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
    const copy = new Uint8Array(bytes); // a copy: Buffer.slice would alter the shared stream
    const target = stream.blocks[4]!;
    const at = target.offset - offset;
    const header = parseBlockHeader(copy, at, 'be');
    const ciphertext = copy.slice(at + 16, at + 16 + header.length);
    ciphertext[10]! ^= 0x01;
    copy.set(encodeBlock(4, ciphertext), at); // a fresh CRC: only the GCM tag can tell
    const error = await remuxer.segment(copy, offset, plan(0)).catch((e: unknown) => e);
    expect((error as RemuxError).code).toBe('TAMPERED');
    expect((error as Error).message).toMatch(/block 4/);
  });

  // The relay lists each segment as whole blocks at a block boundary: bytes that do not frame
  // there are broken framing at a known boundary, TAMPERED in the player's vocabulary.
  it('refuses a segment that does not start on a block boundary as tampered', async () => {
    const remuxer = new HlsSegmentRemuxer(await createBlockCipher(file));
    await remuxer.init(stream.bytes.subarray(0, stream.blocks[2]!.offset));
    const { bytes, offset } = range(stream, 2, PER_SEGMENT);
    const error = await remuxer
      .segment(bytes.subarray(3), offset + 3, plan(0))
      .catch((e: unknown) => e);
    expect((error as RemuxError).code).toBe('TAMPERED');
  });
});

/** The bytes of the given blocks, back to back, as a relay would serve them for one segment. */
function served(seqs: number[]): { bytes: Uint8Array; offset: number } {
  const parts = seqs.map((seq) => {
    const b = stream.blocks[seq]!;
    return stream.bytes.subarray(b.offset, b.offset + b.length);
  });
  return { bytes: Buffer.concat(parts), offset: stream.blocks[seqs[0]!]!.offset };
}
const seqs = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

async function ready(): Promise<HlsSegmentRemuxer> {
  const remuxer = new HlsSegmentRemuxer(await createBlockCipher(file));
  await remuxer.init(stream.bytes.subarray(0, stream.blocks[2]!.offset));
  return remuxer;
}

async function codeOf(remuxer: HlsSegmentRemuxer, blocks: number[], sn: number): Promise<string> {
  const { bytes, offset } = served(blocks);
  return remuxer.segment(bytes, offset, plan(sn)).then(
    () => 'ok',
    (e: unknown) => (e instanceof RemuxError ? e.code : String(e)),
  );
}

describe('HlsSegmentRemuxer: the seq check (a relay cannot drop, replay or reorder)', () => {
  it('refuses a block dropped, replayed or reordered inside a segment', async () => {
    const dropped = [2, 3, 5, 6, 7, 8];
    const replayed = [2, 3, 3, 4, 5, 6];
    const reordered = [2, 3, 5, 4, 6, 7];
    for (const blocks of [dropped, replayed, reordered])
      expect(await codeOf(await ready(), blocks, 0)).toBe('TAMPERED');
    expect(await codeOf(await ready(), seqs(2, 8), 0)).toBe('ok');
  });

  it('carries the seq from segment to segment: a segment replayed in order is refused', async () => {
    const remuxer = await ready();
    expect(await codeOf(remuxer, seqs(2, 8), 0)).toBe('ok');
    expect(await codeOf(remuxer, seqs(2, 8), 1)).toBe('TAMPERED'); // segment 0 again as 1
  });

  it('a segment hls.js jumps to must start at the seq its place fixes, not where the relay says', async () => {
    const remuxer = await ready();
    expect(await codeOf(remuxer, seqs(2, 8), 0)).toBe('ok');
    // hls.js asks for the tail (segment 2: blocks 14–17); the relay serves segment 1, which
    // would have followed on from segment 0.
    expect(await codeOf(remuxer, seqs(8, 14), 2)).toBe('TAMPERED');
    const fresh = await ready();
    expect(await codeOf(fresh, seqs(14, 18), 2)).toBe('ok'); // the real tail, jumped to
    expect(await codeOf(fresh, seqs(2, 8), 0)).toBe('ok'); // and back to the start (a seek)
    expect(await codeOf(fresh, seqs(8, 14), 1)).toBe('ok'); // then on in order
  });

  it('refuses a segment with fewer or more blocks than listed; only the tail may be short', async () => {
    expect(await codeOf(await ready(), seqs(2, 7), 0)).toBe('TAMPERED');
    expect(await codeOf(await ready(), seqs(2, 9), 0)).toBe('TAMPERED');
    expect(await codeOf(await ready(), seqs(14, 17), 2)).toBe('ok');
  });

  it('remuxes loads that overlap one at a time (hls.js may start one while another decrypts)', async () => {
    const remuxer = await ready();
    const later = served(seqs(8, 14));
    const first = served(seqs(2, 8));
    const results = await Promise.all([
      remuxer.segment(later.bytes, later.offset, plan(1)),
      remuxer.segment(first.bytes, first.offset, plan(0)),
      remuxer.segment(later.bytes, later.offset, plan(1)),
    ]);
    expect(results.map((r) => [r.firstSeq, r.lastSeq])).toEqual([
      [8, 13],
      [2, 7],
      [8, 13],
    ]);
  });
});

/** Part `part` of segment `sn`: runs of 2 blocks of the PER_SEGMENT-block segments. */
function partOf(sn: number, part: number): SegmentPlan {
  return { sn, part, firstSeq: 2 + sn * PER_SEGMENT + part * 2, blocks: 2, tail: false };
}

async function partCode(remuxer: HlsSegmentRemuxer, blocks: number[], p: SegmentPlan) {
  const { bytes, offset } = served(blocks);
  return remuxer.segment(bytes, offset, p).then(
    (r) => `ok ${r.firstSeq}-${r.lastSeq}`,
    (e: unknown) => (e instanceof RemuxError ? `${e.code}: ${e.message}` : String(e)),
  );
}

describe('HlsSegmentRemuxer: low-latency parts keep the same checks', () => {
  it('plays parts in order, then the next segment whole, carrying the seq across', async () => {
    const remuxer = await ready();
    expect(await partCode(remuxer, [2, 3], partOf(0, 0))).toBe('ok 2-3');
    expect(await partCode(remuxer, [4, 5], partOf(0, 1))).toBe('ok 4-5');
    expect(await partCode(remuxer, [6, 7], partOf(0, 2))).toBe('ok 6-7');
    expect(await codeOf(remuxer, seqs(8, 14), 1)).toBe('ok');
    expect(await partCode(remuxer, [14, 15], partOf(2, 0))).toBe('ok 14-15');
  });

  it('refuses a part replayed in place of the next, a part of the wrong length, a part from elsewhere', async () => {
    const replayed = await ready();
    expect(await partCode(replayed, [2, 3], partOf(0, 0))).toBe('ok 2-3');
    expect(await partCode(replayed, [2, 3], partOf(0, 1))).toMatch(/^TAMPERED/);
    const long = await ready();
    expect(await partCode(long, [2, 3, 4], partOf(0, 0))).toMatch(
      /^TAMPERED: segment 0 part 0 holds 3 blocks/,
    );
    // hls.js jumps to part 1 of segment 1 (blocks 10–11); the relay serves blocks 8–9.
    expect(await partCode(await ready(), [8, 9], partOf(1, 1))).toMatch(/^TAMPERED/);
    expect(await partCode(await ready(), [10, 11], partOf(1, 1))).toBe('ok 10-11');
  });
});

describe('HlsSegmentRemuxer with key epochs (docs/matrix.md "Key epochs")', () => {
  // A room broadcast's schedule: the header epoch (blocks 0-1), then epochs from 2 and 11, so
  // segment 1 (blocks 8-13) crosses a boundary.
  const epochs = [epochFromFile(file), generateEpoch(2), generateEpoch(11)];
  let rekeyed: Stream;
  beforeAll(async () => {
    rekeyed = await buildStream(await createScheduleCipher(epochs));
  });

  async function remuxAll(remuxer: HlsSegmentRemuxer): Promise<number[]> {
    await remuxer.init(rekeyed.bytes.subarray(0, rekeyed.blocks[2]!.offset));
    const last: number[] = [];
    for (let seq = 2; seq < rekeyed.blocks.length; seq += PER_SEGMENT) {
      const { bytes, offset } = range(
        rekeyed,
        seq,
        Math.min(PER_SEGMENT, rekeyed.blocks.length - seq),
      );
      last.push((await remuxer.segment(bytes, offset, plan((seq - 2) / PER_SEGMENT))).lastSeq);
    }
    return last;
  }

  it('opens every block under its epoch from the ring, across the boundaries', async () => {
    const ring = new EpochKeyRing(epochs);
    const remuxer = new HlsSegmentRemuxer(await createScheduleCipher(ring.epochs), { keys: ring });
    const seen: number[] = [];
    remuxer.onAuthenticated = (seq) => seen.push(seq);
    expect(await remuxAll(remuxer)).toEqual([7, 13, 17]);
    // Every block that passed the gate went to the claims tap, in order.
    expect(seen).toEqual(Array.from({ length: AUDIO_BLOCKS + 2 }, (_, i) => i));
  });

  it('a block past the last known boundary waits for its epoch; without it, TAMPERED', async () => {
    // Only the first two epochs known at the start: the one from block 11 arrives late.
    const late = new EpochKeyRing(epochs.slice(0, 2));
    const waiting = new HlsSegmentRemuxer(await createScheduleCipher(late.epochs), {
      keys: late,
      keyWaitMs: 5000,
    });
    setTimeout(() => late.add(epochs[2]!), 300);
    expect(await remuxAll(waiting)).toEqual([7, 13, 17]);

    const never = new EpochKeyRing(epochs.slice(0, 2));
    const stuck = new HlsSegmentRemuxer(await createScheduleCipher(never.epochs), {
      keys: never,
      keyWaitMs: 200,
    });
    const failure = await remuxAll(stuck).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RemuxError);
    expect((failure as RemuxError).code).toBe('TAMPERED');
  });

  it('a joined newcomer starts inside the segment holding its first block (startAt)', async () => {
    // Its ring (epoch-ring-builder.ts): the header epoch, the stretch from 2 withheld, its own
    // epoch from 11 — segment 1 (blocks 8-13) holds three withheld blocks, then its own.
    const newcomer = async () => {
      const ring = new EpochKeyRing([epochs[0]!]);
      ring.withhold(2, 'sent before you joined');
      ring.add(epochs[2]!);
      const r = new HlsSegmentRemuxer(await createScheduleCipher(ring.epochs), { keys: ring });
      await r.init(rekeyed.bytes.subarray(0, rekeyed.blocks[2]!.offset));
      return r;
    };
    const remuxer = await newcomer();
    const seen: number[] = [];
    remuxer.onAuthenticated = (seq) => seen.push(seq);
    remuxer.startAt(11);
    const one = range(rekeyed, 8, PER_SEGMENT);
    const first = await remuxer.segment(one.bytes, one.offset, plan(1));
    expect([first.firstSeq, first.lastSeq]).toEqual([11, 13]);
    // Its decode time is block 11's, so the media element plays it at its place.
    expect(tfdt(first.data)).toBe(BigInt((11 - 2) * 12 * 960));
    const two = range(rekeyed, 14, 4);
    expect((await remuxer.segment(two.bytes, two.offset, plan(2))).lastSeq).toBe(17);
    expect(seen).toEqual([11, 12, 13, 14, 15, 16, 17]);
    // A segment wholly before it is still NO_ACCESS; without startAt the segment is too.
    const zero = range(rekeyed, 2, PER_SEGMENT);
    const past = await remuxer.segment(zero.bytes, zero.offset, plan(0)).catch((e: unknown) => e);
    expect((past as RemuxError).code).toBe('NO_ACCESS');
    const plain = await newcomer();
    const edge = await plain.segment(one.bytes, one.offset, plan(1)).catch((e: unknown) => e);
    expect((edge as RemuxError).code).toBe('NO_ACCESS');
  });

  it('lost access while waiting for an epoch is NO_ACCESS, not TAMPERED', async () => {
    const ring = new EpochKeyRing(epochs.slice(0, 2));
    ring.loseAccess('you were removed from the room');
    const remuxer = new HlsSegmentRemuxer(await createScheduleCipher(ring.epochs), {
      keys: ring,
      keyWaitMs: 2000,
    });
    const failure = await remuxAll(remuxer).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RemuxError);
    expect((failure as RemuxError).code).toBe('NO_ACCESS');
  });
});
