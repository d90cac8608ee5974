/**
 * The block index JSON, `GET {P}/index/{S}/{ID}` (docs/protocol.md "Block index"): the relay
 * builds it with this type and clients check it with mediaIndexProblem before trusting it.
 */
import type { ByteOrder } from '@mxcast/format';
import { geometryProblem, type DeclaredStreamGeometry } from './stream-geometry.ts';

/** `pending` (created, no bytes yet), `live`, `complete` or `cancelled`. */
export type MediaState = 'pending' | 'live' | 'complete' | 'cancelled';
export const MEDIA_STATES: readonly MediaState[] = ['pending', 'live', 'complete', 'cancelled'];

export interface MediaIndex {
  state: MediaState;
  /** Stored bytes: the magic and whole valid blocks. */
  byte_length: number;
  block_count: number;
  /** Null until the first block header tells it. */
  byte_order: ByteOrder | null;
  /** Offset of block 2 (the first audio block) once known. */
  header_end: number | null;
  /** Size of audio blocks (from block 2, else as declared), or null. */
  block_size: number | null;
  /** Offsets of blocks 0 and 1 (OpusHead, OpusTags), as many as exist. */
  first_offsets: number[];
  /** As declared at create, or null. */
  geometry: DeclaredStreamGeometry | null;
  /** Unpadded base64 sha256 of the file, once complete. */
  sha256: string | null;
  listeners: number;
  /** Milliseconds since the epoch. */
  created_at: number;
  /**
   * While live: true when the upload has sent nothing for the relay's limits.interruptedAfterMs
   * (the broadcaster's connection died or stalled), false again once blocks arrive. A flag next
   * to `state: "live"` rather than a new state, so players that predate it still validate the
   * index and keep treating the media as live (docs/protocol.md "Interrupted broadcasts").
   */
  interrupted?: boolean;
  /** With `?from=N&count=M`: N, and the start offsets of blocks N … N+M−1 that exist. */
  from?: number;
  offsets?: number[];
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isCountOrNull = (v: unknown) => v === null || isCount(v);
const isCounts = (v: unknown) => Array.isArray(v) && v.every(isCount);

/** The first way `value` is not a MediaIndex, or null when it is one. */
export function mediaIndexProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return 'index is not a JSON object';
  const v = value as Record<string, unknown>;
  if (!MEDIA_STATES.includes(v.state as MediaState))
    return `index.state must be one of ${MEDIA_STATES.join(', ')}, got ${JSON.stringify(v.state)}`;
  for (const f of ['byte_length', 'block_count', 'listeners', 'created_at'] as const)
    if (!isCount(v[f])) return `index.${f} must be a non-negative integer`;
  for (const f of ['header_end', 'block_size'] as const)
    if (!isCountOrNull(v[f])) return `index.${f} must be a non-negative integer or null`;
  if (v.byte_order !== null && v.byte_order !== 'be' && v.byte_order !== 'le')
    return 'index.byte_order must be "be", "le" or null';
  if (!isCounts(v.first_offsets)) return 'index.first_offsets must be an array of offsets';
  if (v.sha256 !== null && typeof v.sha256 !== 'string')
    return 'index.sha256 must be a string or null';
  if (v.geometry !== null) {
    const p = geometryProblem(v.geometry, { complete: false });
    if (p) return `index.${p}`;
  }
  if (v.interrupted !== undefined && typeof v.interrupted !== 'boolean')
    return 'index.interrupted must be true or false';
  if (v.from !== undefined && !isCount(v.from)) return 'index.from must be a non-negative integer';
  if (v.offsets !== undefined && !isCounts(v.offsets))
    return 'index.offsets must be an array of offsets';
  return null;
}
