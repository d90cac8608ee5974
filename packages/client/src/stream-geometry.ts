/**
 * A stream's geometry, as the broadcaster may declare it at create (docs/protocol.md) and as the
 * event content carries it (docs/listen-link.md). Snake case because it is the JSON on the wire.
 */
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

export const GEOMETRY_KEY = 'org.matrix.msc4016.geometry';

const FIELDS = [
  'frame_ms',
  'frames_per_block',
  'bitrate',
  'block_size',
  'sample_rate',
  'channels',
] as const;

/** Checks a geometry object field by field; returns the first problem, or null. */
export function geometryProblem(g: unknown): string | null {
  if (typeof g !== 'object' || g === null) return 'geometry is not an object';
  for (const f of FIELDS) {
    const v = (g as Record<string, unknown>)[f];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      return `geometry.${f} must be a positive integer, got ${JSON.stringify(v)}`;
    }
  }
  return null;
}
