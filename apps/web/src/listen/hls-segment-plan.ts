/**
 * Which blocks an HLS segment must hold, derived from the stream geometry and the segment's
 * place in the playlist — never from the bytes the relay sends for it. The relay's playlist
 * (docs/protocol.md "HLS view") starts at EXT-X-MEDIA-SEQUENCE 0 and lists segments of
 * round(2000 / block_ms) whole audio blocks from block 2 on, so segment n must start at seq
 * 2 + n × that and hold exactly that many blocks; only the tail of a finished broadcast (the
 * last segment before EXT-X-ENDLIST) may hold fewer. The remuxer checks every segment against
 * its plan, so a relay cannot drop, replay, reorder or cut whole segments unnoticed.
 */

/** The part of the stream geometry (listen link `g`, or the index) the segment layout follows. */
export interface SegmentGeometry {
  frame_ms: number;
  frames_per_block: number;
}

/** Segment length the relay aims for (docs/protocol.md). */
const TARGET_SEGMENT_MS = 2000;
/** Part length the relay aims for while live (low-latency HLS, RFC 8216bis Partial Segments). */
const TARGET_PART_MS = 200;
/** Blocks 0 and 1 are OpusHead and OpusTags (EXT-X-MAP); audio starts at block 2. */
const FIRST_AUDIO_SEQ = 2;

export interface SegmentPlan {
  /** The segment's media sequence number in the playlist (hls.js `frag.sn`). */
  sn: number;
  /** The seq its first block must carry. */
  firstSeq: number;
  /** How many blocks it must hold (at most this many for the tail). */
  blocks: number;
  /** The last segment of a finished broadcast: 1 to `blocks` blocks. */
  tail: boolean;
  /** For a part (EXT-X-PART) of segment `sn`: its index in the segment. */
  part?: number;
}

export function blocksPerSegment(g: SegmentGeometry): number {
  return Math.max(1, Math.round(TARGET_SEGMENT_MS / (g.frame_ms * g.frames_per_block)));
}

export function segmentPlan(g: SegmentGeometry, sn: number, tail: boolean): SegmentPlan {
  if (!Number.isInteger(sn) || sn < 0) throw new RangeError(`bad segment number ${sn}`);
  const blocks = blocksPerSegment(g);
  return { sn, firstSeq: FIRST_AUDIO_SEQ + sn * blocks, blocks, tail };
}

/** Seconds of audio in one block. */
function blockSeconds(g: SegmentGeometry): number {
  return (g.frame_ms * g.frames_per_block) / 1000;
}

/** When block `seq` starts in the broadcast (seconds): audio blocks follow each other from 0. */
export function seqStartSeconds(g: SegmentGeometry, seq: number): number {
  return (seq - FIRST_AUDIO_SEQ) * blockSeconds(g);
}

/**
 * The block starting at `seconds` (rounded to the nearest boundary): for the page's live edge,
 * `(block_count − 2) × block seconds`, that is `block_count`.
 */
export function seqAtSeconds(g: SegmentGeometry, seconds: number): number {
  return FIRST_AUDIO_SEQ + Math.max(0, Math.round(seconds / blockSeconds(g)));
}

/** Blocks per part: the relay's formula (apps/relay core/ll-hls-playlist.ts), never its bytes. */
export function blocksPerPart(g: SegmentGeometry): number {
  const perSegment = blocksPerSegment(g);
  return Math.min(
    perSegment,
    Math.max(1, Math.round(TARGET_PART_MS / (g.frame_ms * g.frames_per_block))),
  );
}

/**
 * Which blocks part `part` of segment `sn` must hold: the segment's blocks cut in runs of
 * blocksPerPart, the last run of a segment possibly shorter. While live only whole parts are
 * listed; `tail` = a part of the last segment of a finished playlist, which the relay keeps
 * listing and whose last part may hold fewer blocks (1 to the run's count, like a tail segment;
 * the remuxer's seq continuity still catches a short part anywhere but at the very end, and a
 * cut end never shows the authenticated end of stream).
 */
export function partPlan(g: SegmentGeometry, sn: number, part: number, tail = false): SegmentPlan {
  const segment = segmentPlan(g, sn, false);
  const perPart = blocksPerPart(g);
  const first = part * perPart;
  if (!Number.isInteger(part) || part < 0 || first >= segment.blocks)
    throw new RangeError(`segment ${sn} has no part ${part}`);
  return {
    sn,
    part,
    firstSeq: segment.firstSeq + first,
    blocks: Math.min(perPart, segment.blocks - first),
    tail,
  };
}
