/**
 * Strict validation of the stream geometry a broadcaster declares at create (docs/protocol.md
 * "Create"). The relay does arithmetic with it — the HLS view divides by the block duration and
 * prints an integer target duration (RFC 8216 §4.3.3.1) — so every field must be a value the
 * stream format can actually have, not merely a positive number: `frame_ms: 1e-300` once made the
 * playlist say `#EXT-X-TARGETDURATION:NaN`. The rules every reader relies on come from
 * @mxcast/protocol's geometryProblem; the relay checks more on top (ranges the format allows).
 */
import { BLOCK_HEADER_SIZE, GCM_TAG_SIZE } from '@mxcast/format';
import { GEOMETRY_KEY, OPUS_FRAME_MS, geometryProblem } from '@mxcast/protocol';
import type { DeclaredStreamGeometry } from '@mxcast/protocol';
import { RelayError } from './relay-error.ts';

export { GEOMETRY_KEY, OPUS_FRAME_MS };
/** Sampling rates Opus codes at (RFC 6716 §2); the input rate an OpusHead may declare. */
export const OPUS_SAMPLE_RATES: readonly number[] = [8000, 12000, 16000, 24000, 48000];
/** Opus bitrates, bit/s: "from 6 kb/s to 510 kb/s" (RFC 6716 §2.1.1). */
const MIN_BITRATE = 6000;
const MAX_BITRATE = 510_000;
/** An Ogg page has at most 255 lacing values and a packet takes at least one (RFC 3533 §6). */
const MAX_FRAMES_PER_BLOCK = 255;
/** An Ogg page header without its lacing values (RFC 3533 §6). */
const OGG_PAGE_HEADER = 27;
/** OpusHead's channel count is one byte and never 0 (RFC 7845 §5.1). */
const MAX_CHANNELS = 255;

type Field = keyof DeclaredStreamGeometry;

/**
 * Reads the geometry out of a create body's JSON object (`{"org.matrix.msc4016.geometry": …}`);
 * null when none is declared. Throws M_INVALID_PARAM naming the first bad field.
 * `maxBlockLength` bounds `block_size`: a larger block would be refused by the framer anyway.
 */
export function readGeometry(
  body: Record<string, unknown>,
  maxBlockLength: number,
): DeclaredStreamGeometry | null {
  const g = body[GEOMETRY_KEY];
  if (g === undefined || g === null) return null;
  if (typeof g !== 'object' || Array.isArray(g))
    throw new RelayError('M_INVALID_PARAM', `${GEOMETRY_KEY} must be an object`);
  const src = g as Record<string, unknown>;
  const problem = geometryProblem(src, { complete: false });
  // Its messages say `geometry.<field>`; the create body's key is the full name.
  if (problem)
    throw new RelayError('M_INVALID_PARAM', problem.replace(/^geometry\b/, GEOMETRY_KEY));
  const bad = (field: Field, rule: string): RelayError =>
    new RelayError(
      'M_INVALID_PARAM',
      `${GEOMETRY_KEY}.${field} must be ${rule}, got ${JSON.stringify(src[field]) ?? 'nothing'}`,
    );

  const frameMs = src.frame_ms;
  if (typeof frameMs !== 'number' || !OPUS_FRAME_MS.includes(frameMs))
    throw bad('frame_ms', `one of Opus's frame durations (${OPUS_FRAME_MS.join(', ')})`);
  const framesPerBlock = integerIn(src.frames_per_block, 1, MAX_FRAMES_PER_BLOCK);
  if (framesPerBlock === null)
    throw bad('frames_per_block', `an integer from 1 to ${MAX_FRAMES_PER_BLOCK}`);
  // Smallest possible audio block: block header, an Ogg page header with one lacing value per
  // frame (each packet at least 0 bytes), GCM tag; largest: what the framer accepts.
  const minBlock = BLOCK_HEADER_SIZE + OGG_PAGE_HEADER + framesPerBlock + GCM_TAG_SIZE;
  const maxBlock = BLOCK_HEADER_SIZE + maxBlockLength;
  const blockSize = integerIn(src.block_size, minBlock, maxBlock);
  if (blockSize === null) throw bad('block_size', `an integer from ${minBlock} to ${maxBlock}`);
  const out: DeclaredStreamGeometry = {
    frame_ms: frameMs,
    frames_per_block: framesPerBlock,
    block_size: blockSize,
  };

  if (src.bitrate !== undefined) {
    const bitrate = integerIn(src.bitrate, MIN_BITRATE, MAX_BITRATE);
    if (bitrate === null)
      throw bad('bitrate', `an integer from ${MIN_BITRATE} to ${MAX_BITRATE} (bit/s)`);
    out.bitrate = bitrate;
  }
  if (src.sample_rate !== undefined) {
    const rate = src.sample_rate;
    if (typeof rate !== 'number' || !OPUS_SAMPLE_RATES.includes(rate))
      throw bad('sample_rate', `one of ${OPUS_SAMPLE_RATES.join(', ')}`);
    out.sample_rate = rate;
  }
  if (src.channels !== undefined) {
    const channels = integerIn(src.channels, 1, MAX_CHANNELS);
    if (channels === null) throw bad('channels', `an integer from 1 to ${MAX_CHANNELS}`);
    out.channels = channels;
  }
  return out;
}

/**
 * Whether a stored geometry is usable for arithmetic (rows written before validation was strict
 * may hold anything); the HLS view answers 404 rather than print NaN.
 */
export function isUsableGeometry(g: DeclaredStreamGeometry | null): g is DeclaredStreamGeometry {
  if (!g) return false;
  const blockMs = g.frame_ms * g.frames_per_block;
  return OPUS_FRAME_MS.includes(g.frame_ms) && Number.isInteger(g.frames_per_block) && blockMs > 0;
}

function integerIn(v: unknown, min: number, max: number): number | null {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : null;
}
