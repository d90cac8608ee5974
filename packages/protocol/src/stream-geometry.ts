/**
 * A stream's geometry on the wire (docs/protocol.md "Create", docs/listen-link.md): what the
 * broadcaster chooses to say in clear about its hard-CBR stream, so that a player can turn a
 * time into a byte offset and the relay can cut HLS segments. Snake case because it is JSON.
 */

/** The create body's key (`POST /create`) and the index's `geometry` come from it. */
export const GEOMETRY_KEY = 'org.matrix.msc4016.geometry';
/** The event content's key: the geometry plus the preset's name (docs/listen-link.md). */
export const STREAM_KEY = 'org.matrix.msc4016.stream';

/** The full geometry mxcast's broadcasters declare, and the event content carries. */
export interface StreamGeometry {
  frame_ms: number;
  frames_per_block: number;
  /** Opus bitrate in bit/s. */
  bitrate: number;
  /** Size on the wire of every audio block: block header + ciphertext + GCM tag. */
  block_size: number;
  /** Always 48000 for Opus (RFC 7845 §5.1: granules count 48 kHz samples). */
  sample_rate: number;
  channels: number;
}

/** The fields a relay needs (seek arithmetic, HLS segment durations); the rest are optional. */
export const REQUIRED_GEOMETRY_FIELDS = ['frame_ms', 'frames_per_block', 'block_size'] as const;
export const GEOMETRY_FIELDS = [
  ...REQUIRED_GEOMETRY_FIELDS,
  'bitrate',
  'sample_rate',
  'channels',
] as const;

/**
 * A geometry as another client may have declared it: the required fields, and the others when it
 * chose to give them. The relay stores and serves back what was declared (the index's `geometry`).
 */
export type DeclaredStreamGeometry = Pick<
  StreamGeometry,
  (typeof REQUIRED_GEOMETRY_FIELDS)[number]
> &
  Partial<StreamGeometry>;

/**
 * The wire geometry of a hard-CBR stream from its block geometry (@mxcast/audio's
 * `blockGeometry(preset)`: camel case, sizes in bytes) and channel count: what the capture, the
 * web broadcaster and the benches declare at create. The sample rate is Opus's 48 kHz.
 */
export function streamGeometryOf(
  block: { frameMs: number; framesPerBlock: number; bitrate: number; blockBytes: number },
  channels: number,
): StreamGeometry {
  return {
    frame_ms: block.frameMs,
    frames_per_block: block.framesPerBlock,
    bitrate: block.bitrate,
    block_size: block.blockBytes,
    sample_rate: 48000,
    channels,
  };
}

/** Bounds every field: anything larger is a mistake, and stays a safe integer when multiplied. */
const MAX_FIELD = 1_000_000_000;
/** Opus frame durations, ms (RFC 6716 §2.1.4); 2.5 is the only one that is not an integer. */
export const OPUS_FRAME_MS: readonly number[] = [2.5, 5, 10, 20, 40, 60];

/**
 * The first problem with a geometry object, or null when it is one. `frame_ms` must be an Opus
 * frame duration, every other field present a positive integer (≤ 1e9); `complete` (the default)
 * requires all six fields, otherwise only REQUIRED_GEOMETRY_FIELDS. The message names the field.
 * A relay may check more (docs/protocol.md "Create"); this is what every reader can rely on.
 */
export function geometryProblem(g: unknown, options: { complete?: boolean } = {}): string | null {
  if (typeof g !== 'object' || g === null || Array.isArray(g)) return 'geometry is not an object';
  const required: readonly string[] =
    options.complete === false ? REQUIRED_GEOMETRY_FIELDS : GEOMETRY_FIELDS;
  for (const f of GEOMETRY_FIELDS) {
    const v = (g as Record<string, unknown>)[f];
    if (v === undefined && !required.includes(f)) continue;
    const shown = JSON.stringify(v) ?? 'nothing';
    if (f === 'frame_ms') {
      if (typeof v !== 'number' || !OPUS_FRAME_MS.includes(v))
        return `geometry.frame_ms must be an Opus frame duration (${OPUS_FRAME_MS.join(', ')}), got ${shown}`;
    } else if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > MAX_FIELD) {
      return `geometry.${f} must be a positive integer, got ${shown}`;
    }
  }
  return null;
}

/** Copies only the geometry fields of a value geometryProblem accepted (drops extra keys). */
export function pickGeometry<T extends DeclaredStreamGeometry>(g: T): T {
  const out: Record<string, number> = {};
  for (const f of GEOMETRY_FIELDS) {
    const v = (g as Partial<StreamGeometry>)[f];
    if (v !== undefined) out[f] = v;
  }
  return out as T;
}
