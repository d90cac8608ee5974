/**
 * The relay's HLS view of a media as a low-latency playlist (RFC 8216bis, "HTTP Live Streaming
 * 2nd Edition": Partial Segments, blocking playlist reload). Everything is a byte range of the
 * download URL: EXT-X-MAP is the magic and the two header blocks (OpusHead, OpusTags), a segment
 * is about 2 s of whole audio blocks, a part is one block or a few (about 200 ms), all by the
 * geometry declared at create (docs/protocol.md "HLS view").
 *
 * While live the playlist lists every whole segment, then the whole parts of the segment being
 * written, with EXT-X-PART lines also for the two segments before it (players joining near the
 * edge start on parts: §4.4.4.9), a preload hint for the next part, and EXT-X-SERVER-CONTROL
 * with CAN-BLOCK-RELOAD and PART-HOLD-BACK = 3 × PART-TARGET (§4.4.3.8 "SHOULD be at least three
 * times"). Once complete it adds EXT-X-ENDLIST, drops the preload hint, and lists the parts of
 * its last segment only, the last part possibly shorter: hls.js decides the end of a playlist
 * with parts from its last part being buffered; without parts it took a last segment it had
 * loaded some parts of when ENDLIST came as appended, and never loaded that segment's last
 * blocks. Earlier segments are whole (one request each for a listener catching up). Every byte
 * is there, and the whole playlist is cacheable.
 *
 * The layout (blocks per segment and per part) is a function of the geometry alone, so a player
 * can know which blocks a segment or a part must hold without trusting the relay (the web app's
 * hls-segment-plan.ts repeats these two formulas).
 */
import type { DeclaredStreamGeometry } from '@mxcast/protocol';
import { isUsableGeometry } from './geometry-check.ts';
import { RelayError } from './relay-error.ts';

/** Segment length aimed at, ms (docs/protocol.md "HLS view"). */
export const TARGET_SEGMENT_MS = 2000;
/** Part length aimed at, ms: one Voice block (240 ms), three Music blocks, ten Low-latency ones. */
export const TARGET_PART_MS = 200;
/** Blocks 0 and 1 are OpusHead and OpusTags (EXT-X-MAP); audio starts at block 2. */
export const FIRST_AUDIO_SEQ = 2;
/** Segments before the one being written whose parts are listed too. */
const PARTED_SEGMENTS_BEFORE = 2;

export interface HlsLayout {
  blockMs: number;
  blocksPerSegment: number;
  blocksPerPart: number;
  /** EXT-X-TARGETDURATION: the longest segment rounded up to whole seconds (§4.4.3.1). */
  targetDuration: number;
  /** EXT-X-PART-INF PART-TARGET, seconds: the longest part. */
  partTarget: number;
}

/** What the playlist needs from a media record (storage/media-record.ts). */
export interface PlaylistMedia {
  state: string;
  blockCount: number;
  byteLength: number;
  offsets: { at(seq: number): number | undefined };
  geometry: DeclaredStreamGeometry | null;
}

export function hlsLayout(
  g: Pick<DeclaredStreamGeometry, 'frame_ms' | 'frames_per_block'>,
): HlsLayout {
  const blockMs = g.frame_ms * g.frames_per_block;
  const blocksPerSegment = Math.max(1, Math.round(TARGET_SEGMENT_MS / blockMs));
  const blocksPerPart = Math.min(
    blocksPerSegment,
    Math.max(1, Math.round(TARGET_PART_MS / blockMs)),
  );
  return {
    blockMs,
    blocksPerSegment,
    blocksPerPart,
    targetDuration: Math.max(1, Math.ceil((blocksPerSegment * blockMs) / 1000)),
    partTarget: (blocksPerPart * blockMs) / 1000,
  };
}

/** The media's layout, or M_NOT_FOUND when it has no usable geometry (no HLS view then). */
export function requireLayout(rec: PlaylistMedia): HlsLayout {
  const g = rec.geometry;
  if (!g)
    throw new RelayError(
      'M_NOT_FOUND',
      'no HLS view: the stream geometry was not declared at create',
    );
  // Rows stored before create checked the geometry strictly may hold any number: no playlist
  // rather than one saying NaN (RFC 8216 §4.3.3.1 wants a decimal-integer target duration).
  if (!isUsableGeometry(g))
    throw new RelayError('M_NOT_FOUND', 'no HLS view: the declared stream geometry is not usable');
  return hlsLayout(g);
}

/** Media sequence number of the segment being written (or the next one) and its whole parts. */
export function liveEdge(rec: PlaylistMedia, layout: HlsLayout): { msn: number; parts: number } {
  const audio = Math.max(0, rec.blockCount - FIRST_AUDIO_SEQ);
  const msn = Math.floor(audio / layout.blocksPerSegment);
  return { msn, parts: Math.floor((audio - msn * layout.blocksPerSegment) / layout.blocksPerPart) };
}

/**
 * How many blocks must be stored before the playlist holds segment `msn` whole (no `part`), or
 * part `part` of it (§6.2.5.2: "_HLS_msn=M&_HLS_part=P": hold until the playlist contains that
 * partial segment). A part index past the segment's last part is counted on into the next
 * segment, which is where the player will look for it.
 */
export function blocksFor(layout: HlsLayout, msn: number, part: number | null): number {
  const start = FIRST_AUDIO_SEQ + msn * layout.blocksPerSegment;
  if (part === null) return start + layout.blocksPerSegment;
  const partsPerSegment = Math.ceil(layout.blocksPerSegment / layout.blocksPerPart);
  if (part < partsPerSegment)
    return start + Math.min((part + 1) * layout.blocksPerPart, layout.blocksPerSegment);
  return blocksFor(layout, msn + 1, part - partsPerSegment);
}

export function buildLlHlsPlaylist(rec: PlaylistMedia, mediaUrl: string): string {
  const layout = requireLayout(rec);
  const { blockMs, blocksPerSegment: perSegment, blocksPerPart: perPart } = layout;
  const complete = rec.state === 'complete';
  const seconds = (blocks: number) => ((blocks * blockMs) / 1000).toFixed(3);
  const lines = [
    '#EXTM3U',
    // 9: the version RFC 8216bis's Partial Segments and blocking reload come with.
    '#EXT-X-VERSION:9',
    `#EXT-X-TARGETDURATION:${layout.targetDuration}`,
    '#EXT-X-PLAYLIST-TYPE:EVENT',
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    // PART-HOLD-BACK is required wherever EXT-X-PART-INF is (§4.4.3.8), finished or not.
    `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${(3 * layout.partTarget).toFixed(3)}`,
    `#EXT-X-PART-INF:PART-TARGET=${layout.partTarget.toFixed(3)}`,
  ];
  const headerEnd = rec.offsets.at(FIRST_AUDIO_SEQ);
  if (headerEnd === undefined) {
    if (complete) lines.push('#EXT-X-ENDLIST');
    return lines.join('\n') + '\n';
  }
  const range = (first: number, last: number) => {
    const start = rec.offsets.at(first) ?? 0;
    const end = rec.offsets.at(last) ?? rec.byteLength;
    return { start, length: end - start };
  };
  lines.push(`#EXT-X-MAP:URI="${mediaUrl}",BYTERANGE="${headerEnd}@0"`);
  const edge = liveEdge(rec, layout);
  for (let msn = 0; ; msn++) {
    const first = FIRST_AUDIO_SEQ + msn * perSegment;
    if (first >= rec.blockCount) break;
    const last = Math.min(first + perSegment, rec.blockCount);
    const whole = last - first === perSegment || complete;
    const parted = complete
      ? first + perSegment >= rec.blockCount
      : msn >= edge.msn - PARTED_SEGMENTS_BEFORE;
    if (parted) {
      // Parts: each whole group of perPart blocks (a segment's last part may be shorter, and so
      // may a finished tail's). Audio Opus packets all decode alone, so every part is independent.
      for (let p = first; p < last; p += perPart) {
        const end = Math.min(p + perPart, first + perSegment, complete ? last : Infinity);
        if (end > last) break;
        const r = range(p, end);
        lines.push(
          `#EXT-X-PART:DURATION=${seconds(end - p)},URI="${mediaUrl}",BYTERANGE="${r.length}@${r.start}",INDEPENDENT=YES`,
        );
      }
    }
    if (!whole) break;
    const r = range(first, last);
    lines.push(
      `#EXTINF:${seconds(last - first)},`,
      `#EXT-X-BYTERANGE:${r.length}@${r.start}`,
      mediaUrl,
    );
  }
  if (complete) lines.push('#EXT-X-ENDLIST');
  // The next part starts where the stored bytes end (blocks are stored whole).
  else
    lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${mediaUrl}",BYTERANGE-START=${rec.byteLength}`);
  return lines.join('\n') + '\n';
}
