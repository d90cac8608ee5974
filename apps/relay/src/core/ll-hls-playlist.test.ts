/**
 * The low-latency playlist against RFC 8216bis's rules, for each preset's geometry at every
 * block count of a few segments, live and complete: a parser reads the playlist back and checks
 * what a player relies on, from the text alone.
 */
import { describe, expect, it } from 'vitest';
import {
  FIRST_AUDIO_SEQ,
  blocksFor,
  buildLlHlsPlaylist,
  hlsLayout,
  liveEdge,
  type PlaylistMedia,
} from './ll-hls-playlist.ts';

const URL = '/_matrix/client/v1/media/download/s/id';
/** docs/audio.md's presets: frames per block of 20 ms frames, audio block bytes on the wire. */
const PRESETS = { voice: [12, 1031], music: [3, 1025], 'low-latency': [1, 140] } as const;

function media(
  framesPerBlock: number,
  blockBytes: number,
  blocks: number,
  state: string,
): PlaylistMedia {
  // Magic (4), OpusHead block (79), OpusTags block (100), then audio blocks of one size.
  const offsets = [4, 83];
  for (let s = 2; s <= blocks; s++) offsets.push(183 + (s - 2) * blockBytes);
  return {
    state,
    blockCount: blocks,
    byteLength: offsets[blocks]!,
    offsets: {
      at: (seq) => (seq <= blocks ? offsets[seq] : undefined),
    },
    geometry: {
      frame_ms: 20,
      frames_per_block: framesPerBlock,
      bitrate: 32000,
      block_size: blockBytes,
      sample_rate: 48000,
      channels: 1,
    },
  };
}

interface Range {
  start: number;
  length: number;
}
interface Parsed {
  tags: Map<string, string>;
  segments: { duration: number; range: Range; parts: { duration: number; range: Range }[] }[];
  /** Parts after the last whole segment: the segment being written. */
  openParts: { duration: number; range: Range }[];
  hint: string | null;
  endlist: boolean;
}

function attrs(list: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of list.matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g))
    out.set(m[1]!, m[2]!.replace(/^"|"$/g, ''));
  return out;
}

function byteRange(v: string): Range {
  const [length, start] = v.split('@').map(Number);
  return { start: start!, length: length! };
}

function parse(text: string): Parsed {
  const lines = text.trimEnd().split('\n');
  expect(lines[0]).toBe('#EXTM3U');
  const p: Parsed = { tags: new Map(), segments: [], openParts: [], hint: null, endlist: false };
  let duration: number | null = null;
  let range: Range | null = null;
  for (const line of lines.slice(1)) {
    const [tag, value = ''] = line.split(/:(.*)/s);
    if (tag === '#EXT-X-PART') {
      const a = attrs(value);
      expect(a.get('URI')).toBe(URL);
      expect(a.get('INDEPENDENT')).toBe('YES');
      p.openParts.push({
        duration: Number(a.get('DURATION')),
        range: byteRange(a.get('BYTERANGE')!),
      });
    } else if (tag === '#EXTINF') duration = Number(value.replace(/,$/, ''));
    else if (tag === '#EXT-X-BYTERANGE') range = byteRange(value);
    else if (line === URL) {
      expect(duration).not.toBeNull();
      p.segments.push({ duration: duration!, range: range!, parts: p.openParts });
      p.openParts = [];
      duration = null;
    } else if (tag === '#EXT-X-PRELOAD-HINT') p.hint = value;
    else if (line === '#EXT-X-ENDLIST') p.endlist = true;
    else if (tag?.startsWith('#EXT')) p.tags.set(tag, value);
  }
  return p;
}

describe('LL-HLS playlist (RFC 8216bis)', () => {
  for (const [name, [fpb, bytes]] of Object.entries(PRESETS)) {
    it(`${name}: parts, hold-back, numbering and byte ranges follow the rules at every block count`, () => {
      const layout = hlsLayout({ frame_ms: 20, frames_per_block: fpb });
      const blockS = (20 * fpb) / 1000;
      expect(layout.partTarget).toBeGreaterThan(0.1);
      expect(layout.partTarget).toBeLessThanOrEqual(0.25);
      for (let blocks = 2; blocks <= 2 + 3 * layout.blocksPerSegment + 3; blocks++) {
        const rec = media(fpb, bytes, blocks, 'live');
        const p = parse(buildLlHlsPlaylist(rec, URL));
        const target = Number(p.tags.get('#EXT-X-TARGETDURATION'));
        const partTarget = Number(attrs(p.tags.get('#EXT-X-PART-INF')!).get('PART-TARGET'));
        const control = attrs(p.tags.get('#EXT-X-SERVER-CONTROL')!);
        expect(control.get('CAN-BLOCK-RELOAD')).toBe('YES');
        // §4.4.3.8: PART-HOLD-BACK at least three Part Target Durations.
        expect(Number(control.get('PART-HOLD-BACK'))).toBeGreaterThanOrEqual(3 * partTarget - 1e-9);
        expect(Number(p.tags.get('#EXT-X-VERSION'))).toBeGreaterThanOrEqual(9);
        expect(p.tags.get('#EXT-X-MEDIA-SEQUENCE')).toBe('0');
        expect(p.endlist).toBe(false);
        const edge = liveEdge(rec, layout);
        // Whole segments only, numbered from 0: the open one has MSN = their count.
        expect(p.segments).toHaveLength(edge.msn);
        expect(p.openParts).toHaveLength(edge.parts);
        let at = 183;
        p.segments.forEach((seg, msn) => {
          // §4.4.4.1: EXTINF rounded to an integer ≤ TARGETDURATION.
          expect(Math.round(seg.duration)).toBeLessThanOrEqual(target);
          expect(seg.range.start).toBe(at);
          expect(seg.range.length).toBe(layout.blocksPerSegment * bytes);
          at += seg.range.length;
          // Parts only for the last two whole segments; where listed, they tile the segment.
          if (msn < edge.msn - 2) expect(seg.parts).toEqual([]);
          else {
            expect(seg.parts.reduce((s, q) => s + q.duration, 0)).toBeCloseTo(seg.duration, 6);
            let pat = seg.range.start;
            for (const part of seg.parts) {
              expect(part.range.start).toBe(pat);
              pat += part.range.length;
            }
            expect(pat).toBe(seg.range.start + seg.range.length);
          }
        });
        let pat = at;
        for (const part of [...p.segments.flatMap((s) => s.parts), ...p.openParts]) {
          // §4.4.4.9: each part's duration ≤ PART-TARGET; whole blocks each.
          expect(part.duration).toBeLessThanOrEqual(partTarget + 1e-9);
          expect(part.range.length % bytes).toBe(0);
          expect(part.duration).toBeCloseTo((part.range.length / bytes) * blockS, 6);
        }
        for (const part of p.openParts) {
          expect(part.range.start).toBe(pat);
          pat += part.range.length;
        }
        // The preload hint is the next part, where the stored bytes end.
        expect(p.hint).toBe(`TYPE=PART,URI="${URL}",BYTERANGE-START=${rec.byteLength}`);
        // Blocking reload: the part just after the listed ones needs exactly one more group.
        const need = blocksFor(layout, edge.msn, edge.parts);
        expect(need).toBeGreaterThan(blocks);
        expect(need - blocks).toBeLessThanOrEqual(layout.blocksPerPart);
        if (edge.parts > 0)
          expect(blocksFor(layout, edge.msn, edge.parts - 1)).toBeLessThanOrEqual(blocks);
        expect(blocksFor(layout, edge.msn, null)).toBe(
          FIRST_AUDIO_SEQ + (edge.msn + 1) * layout.blocksPerSegment,
        );
      }
    });
  }

  it('a finished broadcast: every block in a segment, ENDLIST, no hint, parts for the last segment only', () => {
    const rec = media(12, 1031, 2 + 8 * 3 + 5, 'complete');
    const p = parse(buildLlHlsPlaylist(rec, URL));
    expect(p.endlist).toBe(true);
    expect(p.hint).toBeNull();
    // The parts' tags stay with them (§4.4.3.7, §4.4.3.8).
    expect(attrs(p.tags.get('#EXT-X-PART-INF')!).get('PART-TARGET')).toBe('0.240');
    expect(attrs(p.tags.get('#EXT-X-SERVER-CONTROL')!).get('PART-HOLD-BACK')).toBe('0.720');
    expect(p.tags.get('#EXT-X-VERSION')).toBe('9');
    expect(p.segments.map((s) => [s.duration, s.parts.length])).toEqual([
      [1.92, 0],
      [1.92, 0],
      [1.92, 0],
      [1.2, 5],
    ]);
    expect(p.openParts).toEqual([]);
    const tail = p.segments[3]!;
    expect(tail.parts.map((q) => q.range.start)).toEqual(
      [0, 1, 2, 3, 4].map((i) => tail.range.start + i * 1031),
    );
  });

  it('a finished tail shorter than a part run ends on a short part (Music: 3 blocks a part)', () => {
    const rec = media(3, 400, 2 + 33 + 7, 'complete');
    const p = parse(buildLlHlsPlaylist(rec, URL));
    const tail = p.segments[1]!;
    expect(tail.range.length).toBe(7 * 400);
    // 3 + 3 + 1 blocks: the last part is the tail's last block, and they tile the tail.
    expect(tail.parts.map((q) => q.range.length)).toEqual([1200, 1200, 400]);
    expect(tail.parts.reduce((n, q) => n + q.range.length, 0)).toBe(tail.range.length);
    expect(tail.parts[2]!.duration).toBeCloseTo(0.06, 6);
    // A tail that is a whole segment: its parts, none for the one before.
    const whole = parse(buildLlHlsPlaylist(media(12, 1031, 2 + 16, 'complete'), URL));
    expect(whole.segments.map((s) => s.parts.length)).toEqual([0, 8]);
  });
});
