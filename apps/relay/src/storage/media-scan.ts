/**
 * Re-reads a media file with the same framer the uploads went through, to find where its last
 * whole valid block ends. Used on start for every unfinished media (after a crash the file may end
 * in a partial block, or with bytes that never reached the disk in order) — synchronous, before the
 * relay listens — and by `mxcast relay --repair` (offline). Complete media are not re-scanned:
 * their index comes from runs stored at completion and their sha256 is checked by chunked async
 * reads (media-verify.ts), so a reload never stalls the event loop.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { MAGIC, type ByteOrder } from '@mxcast/format';
import { UploadFramer } from './upload-framer.ts';
import { OffsetList } from './offset-list.ts';

export interface ScanResult {
  /** End of the last whole valid block (0 when there is none: not even the magic is kept). */
  validLength: number;
  offsets: OffsetList;
  byteOrder: ByteOrder | null;
  /** sha256 over the first validLength bytes (to continue an unfinished upload's hash). */
  hasher: Hash;
  /** Why the scan stopped early, if it did (format error code or 'TRUNCATED'). */
  stoppedBy: string | null;
}

const CHUNK = 1024 * 1024;

export function scanMediaFile(path: string, maxBlockLength: number): ScanResult {
  const offsets = new OffsetList();
  const hasher = createHash('sha256');
  let validLength = 0;
  let byteOrder: ByteOrder | null = null;
  let stoppedBy: string | null = null;
  const framer = new UploadFramer({
    maxBlockLength,
    startOffset: 0,
    expectedSeq: 0,
    byteOrder: undefined,
  });
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return { validLength, offsets, byteOrder, hasher, stoppedBy: 'MISSING' };
  }
  try {
    let position = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(CHUNK);
      const n = readSync(fd, buf, 0, CHUNK, position);
      if (n === 0) break;
      position += n;
      const step = framer.push(buf.subarray(0, n));
      for (const b of step.blocks) {
        if (offsets.length === 0) hasher.update(MAGIC);
        offsets.push(b.offset);
        hasher.update(b.bytes);
        validLength = b.offset + b.bytes.length;
        byteOrder = b.byteOrder;
      }
      if (step.error) {
        stoppedBy = step.error.code;
        break;
      }
    }
    if (!stoppedBy && !framer.atBoundary) stoppedBy = 'TRUNCATED';
  } finally {
    closeSync(fd);
  }
  return { validLength, offsets, byteOrder, hasher, stoppedBy };
}
