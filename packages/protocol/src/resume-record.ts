/**
 * The resume record: what a broadcaster keeps to continue an interrupted broadcast — the key(s),
 * the media, the Opus geometry and how far the upload got. One format for both broadcasters and
 * both places it is kept: the CLI capture's state file (`--state FILE`) and the `resume` object
 * of the account-data secret `org.mxcast.capture_state.<broadcast id>` that the capture and the
 * web page write (docs/matrix.md "Resume from any device"), so either resumes what the other
 * left. Records of version 1 are already on disks and in accounts: field names never change.
 *
 * Pure checks only: the key schedule's own rules (docs/format.md "Key epochs") are
 * @mxcast/format's KeySchedule.parse, which a reader that uses the epochs runs on top.
 */
import type { EncryptedFile, Epoch } from '@mxcast/format';
import type { StreamGeometry } from './stream-geometry.ts';

export const RESUME_RECORD_VERSION = 1;

/** A block boundary a resumed encoder can start from (the block's and the Ogg stream's state). */
export interface ResumeRecordPoint {
  /** Seq of the next block to write and its byte offset in the file. */
  nextSeq: number;
  offset: number;
  /** Ogg bitstream serial and next page sequence number (RFC 3533 §6). */
  serial: number;
  pageSeq: number;
  /** Granule of the last audio page before this point (u64, decimal). */
  granule: string;
}

export interface ResumeRecord {
  version: typeof RESUME_RECORD_VERSION;
  /** The relay's base URL the media was created on. */
  relay: string;
  mxc: string;
  /** EncryptedFile v3 with `url`: the key and IV of the first epoch. */
  file: EncryptedFile;
  /**
   * Every key epoch fixed so far, the first being `file`'s (docs/format.md "Key epochs"),
   * including one announced but not yet reached: a resumed run must switch where it was
   * announced. Absent in records written before key epochs: one epoch, `file`.
   */
  epochs?: Epoch[];
  /** The capture preset's name. */
  preset: string;
  /** The full geometry declared at create. */
  geometry: StreamGeometry;
  title: string;
  /** Ogg bitstream serial (RFC 3533 §6): a resumed run keeps writing the same logical stream. */
  serial: number;
  /** The next block's seq and byte offset, as last acknowledged by the relay. */
  nextSeq: number;
  offset: number;
  /** Granule of the last audio page acknowledged (decimal string: a u64). */
  granule: string;
  /** ISO 8601 time of the write. */
  updatedAt: string;
  /**
   * The Ogg page sequence at `nextSeq`. Written by the web page only: a reader without it takes
   * page seq = block seq (both writers keep it so).
   */
  pageSeq?: number;
  /**
   * Block boundaries emitted after the acked one (the relay may hold them; its stored offset
   * picks the point to continue from). Written by the web page only.
   */
  ahead?: ResumeRecordPoint[];
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function pointProblem(p: unknown): boolean {
  if (typeof p !== 'object' || p === null) return true;
  const v = p as Record<string, unknown>;
  return (
    !isCount(v.nextSeq) ||
    !isCount(v.offset) ||
    !isCount(v.serial) ||
    !isCount(v.pageSeq) ||
    typeof v.granule !== 'string'
  );
}

/**
 * The first way `value` is not a ResumeRecord (`missing or bad 'FIELD'`), or null when it is one.
 * `epochs` is only checked to be an array here; its schedule is KeySchedule.parse's to judge.
 */
export function resumeRecordProblem(value: unknown): string | null {
  const s = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const bad = (field: string) => `missing or bad '${field}'`;
  if (s.version !== RESUME_RECORD_VERSION) return bad('version');
  for (const f of ['relay', 'mxc', 'preset', 'title', 'granule', 'updatedAt'] as const) {
    if (typeof s[f] !== 'string') return bad(f);
  }
  for (const f of ['serial', 'nextSeq', 'offset'] as const) {
    if (!isCount(s[f])) return bad(f);
  }
  const file = s.file as { key?: { k?: unknown }; iv?: unknown } | undefined;
  if (typeof file?.key?.k !== 'string' || typeof file.iv !== 'string') return bad('file');
  const geometry = s.geometry as { frames_per_block?: unknown } | undefined;
  if (typeof geometry?.frames_per_block !== 'number') return bad('geometry');
  if (s.epochs !== undefined && !Array.isArray(s.epochs)) return bad('epochs');
  if (s.pageSeq !== undefined && !isCount(s.pageSeq)) return bad('pageSeq');
  if (s.ahead !== undefined && (!Array.isArray(s.ahead) || s.ahead.some(pointProblem))) {
    return bad('ahead');
  }
  return null;
}
