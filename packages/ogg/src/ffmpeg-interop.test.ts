/**
 * Independent checks against real tools: pages written by ffmpeg's Ogg muxer (libopus) parse
 * with valid CRCs and re-serialise byte for byte; the same packets re-paged by OggOpusPager the
 * mxcast way are accepted by opusinfo and ffprobe and decode with opusdec to the same PCM.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OggFlag, writeOggPage } from './ogg-page.ts';
import { OggPageReader, type ReadOggPage } from './ogg-page-reader.ts';
import { OggOpusPager } from './ogg-opus-pager.ts';
import { parseOpusHead } from './opus-head.ts';
import { findOpusTag, parseOpusTags } from './opus-tags.ts';
import { opusPacketSamples } from './opus-packet.ts';

const dir = mkdtempSync(join(tmpdir(), 'mxcast-ogg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ffmpegOpus(name: string, seconds: number, channels: number): Uint8Array {
  const out = join(dir, name);
  execFileSync('ffmpeg', [
    ...['-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=f=440:d=${seconds}:sample_rate=48000`],
    ...['-ac', String(channels), '-c:a', 'libopus', '-b:a', '64k', out],
  ]);
  return new Uint8Array(readFileSync(out));
}

function readAll(bytes: Uint8Array): ReadOggPage[] {
  const reader = new OggPageReader({ checkPageSeq: true });
  const pages = reader.push(bytes);
  reader.finish();
  return pages;
}

/** Whole packets of a stream, joining any that continue across pages. */
function packetsOf(pages: ReadOggPage[]): Uint8Array[] {
  const packets: Uint8Array[] = [];
  let carry: Uint8Array | null = null;
  for (const page of pages) {
    page.packets.forEach((p, i) => {
      let packet = p;
      if (i === 0 && (page.flags & OggFlag.CONTINUED) !== 0 && carry !== null) {
        packet = new Uint8Array(carry.length + p.length);
        packet.set(carry);
        packet.set(p, carry.length);
        carry = null;
      }
      if (i === page.packets.length - 1 && page.incomplete === true) carry = packet;
      else packets.push(packet);
    });
  }
  return packets;
}

/** Dominant frequency of 16-bit mono PCM by counting rising zero crossings. */
function zeroCrossingHz(pcm: Int16Array, rate: number): number {
  let crossings = 0;
  for (let i = 1; i < pcm.length; i++)
    if ((pcm[i - 1] as number) < 0 && (pcm[i] as number) >= 0) crossings++;
  return (crossings * rate) / pcm.length;
}

describe('interop with ffmpeg, opusinfo, opusdec', () => {
  it('parses every page ffmpeg writes, whatever byte the file is split at, and rewrites it byte for byte', () => {
    const file = ffmpegOpus('tiny.opus', 0.2, 1);
    const pages = readAll(file);
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect(pages[0]?.flags).toBe(OggFlag.BOS);
    expect(pages.at(-1)?.flags).toBe(OggFlag.EOS);
    for (const page of pages) expect(writeOggPage(page)).toEqual(page.bytes);
    expect(parseOpusHead(pages[0]?.packets[0] as Uint8Array)).toMatchObject({
      channels: 1,
      mappingFamily: 0,
    });
    expect(findOpusTag(parseOpusTags(pages[1]?.packets[0] as Uint8Array), 'encoder')).toMatch(
      /libopus/,
    );
    const expected = pages.map((p) => p.bytes.length);
    for (let cut = 0; cut <= file.length; cut++) {
      const reader = new OggPageReader();
      const got = [...reader.push(file.subarray(0, cut)), ...reader.push(file.subarray(cut))];
      reader.finish();
      expect(got.map((p) => p.bytes.length)).toEqual(expected);
    }
  });

  it("re-pages ffmpeg's packets the mxcast way into a file opusinfo, ffprobe and opusdec accept", () => {
    const source = ffmpegOpus('source.opus', 2, 2);
    const pages = readAll(source);
    const head = parseOpusHead(pages[0]?.packets[0] as Uint8Array);
    const packets = packetsOf(pages.slice(2));
    const total = packets.reduce((n, p) => n + opusPacketSamples(p), 0);
    const lastGranule = pages.at(-1)?.granule as bigint;

    const pager = new OggOpusPager({
      serial: 0x6d78,
      channels: head.channels,
      preSkip: head.preSkip,
      title: 'Repaged test',
    });
    const out: Uint8Array[] = [pager.headPage(), pager.tagsPage()];
    for (let i = 0; i < packets.length; i += 12) {
      const group = packets.slice(i, i + 12);
      const eos = i + 12 >= packets.length;
      out.push(pager.audioPage(group, eos ? { eos, endTrim: total - Number(lastGranule) } : {}));
    }
    const repaged = join(dir, 'repaged.opus');
    writeFileSync(repaged, Buffer.concat(out));

    const info = execFileSync('opusinfo', [repaged], { encoding: 'utf8' });
    expect(info).not.toMatch(/WARNING|ERROR|error/);
    expect(info).toMatch(/Channels: 2/);
    expect(info).toMatch(/Pre-skip: 312/);
    expect(info).toMatch(/TITLE=Repaged test/);
    expect(info).toMatch(/Playback length: 0m:02\.0\d*s/);

    const probe = JSON.parse(
      execFileSync(
        'ffprobe',
        [
          '-v',
          'error',
          '-show_entries',
          'format=duration:stream=channels,codec_name:stream_tags=title',
          '-of',
          'json',
          repaged,
        ],
        { encoding: 'utf8' },
      ),
    ) as {
      streams: { channels: number; codec_name: string; tags?: { TITLE?: string } }[];
      format: { duration: string };
    };
    expect(probe.streams[0]).toMatchObject({
      channels: 2,
      codec_name: 'opus',
      tags: { TITLE: 'Repaged test' },
    });
    expect(Number(probe.format.duration)).toBeCloseTo(2, 1);

    // Same packets, same pre-skip, same end trim: opusdec must give identical PCM for both files.
    const decode = (file: string): Int16Array => {
      const wav = join(dir, `${file}.raw`);
      execFileSync('opusdec', ['--quiet', '--rate', '48000', '--no-dither', join(dir, file), wav]);
      const b = readFileSync(wav);
      return new Int16Array(b.buffer, b.byteOffset, b.length / 2);
    };
    const original = decode('source.opus');
    const ours = decode('repaged.opus');
    expect(ours.length).toBe(2 * 2 * 48000);
    expect(ours).toEqual(original);
    const left = ours.filter((_, i) => i % 2 === 0);
    expect(zeroCrossingHz(left, 48000)).toBeCloseTo(440, -1);

    // Ending with an empty EOS page (the end came just after a full block) is clean too.
    const ended = new OggOpusPager({ serial: 9, channels: head.channels, preSkip: head.preSkip });
    const blocks = [ended.headPage(), ended.tagsPage()];
    for (let i = 0; i < 96; i += 12) blocks.push(ended.audioPage(packets.slice(i, i + 12)));
    blocks.push(ended.audioPage([], { eos: true }));
    writeFileSync(join(dir, 'empty-eos.opus'), Buffer.concat(blocks));
    const emptyInfo = execFileSync('opusinfo', [join(dir, 'empty-eos.opus')], { encoding: 'utf8' });
    expect(emptyInfo).not.toMatch(/WARNING|ERROR/);
    expect(decode('empty-eos.opus').length).toBe(2 * (96 * 960 - head.preSkip));
  });
});
