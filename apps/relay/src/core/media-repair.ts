/**
 * `mxcast relay --repair` (docs/operations.md "Damage and repair"): rebuilds the database's media
 * rows from the media files after relay.db was lost (truncated, deleted, overwritten), and looks
 * again at media marked damaged (a file restored from a backup clears the mark). It runs with the
 * relay stopped (it takes the data-dir lock) and never changes a media file.
 *
 * What a file tells, and what it cannot:
 * - the media id is its name; lengths, block index, byte order and the sha256 come from a scan
 *   with the upload framer (the same validation uploads get);
 * - the state: `complete` when the file ends exactly at a whole block and was last written more
 *   than `limits.maxLiveDurationMs` ago — no upload could add to it any more, as the live-duration
 *   limit counts from its first byte, older still; otherwise `live`, so its broadcaster can resume
 *   (a partial last block is cut by the start-up recovery, as after a crash). The relay never sees
 *   a key, so it cannot read the EOS flag inside the encrypted stream;
 * - the owner is `@repair:<server name>`: create a token for that user to resume, complete or
 *   delete recovered media. Tokens cannot be recovered (only their sha256 was stored);
 * - the declared geometry is lost, so recovered media have no HLS view.
 */
import { existsSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { mediaFileIds } from '../storage/database-check.ts';
import { lockDataDir } from '../storage/data-dir-lock.ts';
import { scanMediaFile } from '../storage/media-scan.ts';
import { RelayDatabase } from '../storage/relay-database.ts';
import { isMediaId } from './media-id.ts';
import { resolveConfig, type RelayOptions } from './relay-config.ts';

export interface RepairReport {
  /** Rows rebuilt from files. */
  recovered: {
    id: string;
    state: 'live' | 'complete';
    byteLength: number;
    sha256: string | null;
  }[];
  /** Files left without a row, and why. */
  skipped: { id: string; why: string }[];
  /** Media whose damage mark was cleared (their file matches again). */
  cleared: string[];
  /** Media still damaged. */
  stillDamaged: { id: string; damage: string }[];
  /** Where an unreadable relay.db was moved, if it was. */
  movedAside: string | null;
  /** The owner given to recovered media. */
  owner: string;
}

export function repairDataDir(options: RelayOptions): RepairReport {
  const config = resolveConfig(options);
  const { dataDir } = config;
  const unlock = lockDataDir(dataDir);
  try {
    const report: RepairReport = {
      recovered: [],
      skipped: [],
      cleared: [],
      stillDamaged: [],
      movedAside: null,
      owner: `@repair:${config.serverName}`,
    };
    let db: RelayDatabase;
    try {
      db = new RelayDatabase(dataDir);
    } catch {
      // Not a database: keep it for forensics, start an empty one.
      report.movedAside = moveAside(dataDir);
      db = new RelayDatabase(dataDir);
    }
    try {
      const mediaDir = join(dataDir, 'media');
      for (const id of mediaFileIds(mediaDir, isMediaId)) {
        if (db.getMedia(id)) continue;
        const path = join(mediaDir, `${id}.mxc`);
        const scan = scanMediaFile(path, config.limits.maxBlockLength);
        if (scan.validLength === 0) {
          report.skipped.push({ id, why: `no valid block (${scan.stoppedBy ?? 'empty'})` });
          continue;
        }
        const stat = statSync(path);
        const born = Math.min(stat.birthtimeMs || stat.mtimeMs, stat.mtimeMs);
        const whole = scan.stoppedBy === null && scan.validLength === stat.size;
        const ended = whole && Date.now() - stat.mtimeMs > config.limits.maxLiveDurationMs;
        const sha256 = ended ? scan.hasher.digest('base64').replace(/=+$/, '') : null;
        const runs = ended ? scan.offsets.toRuns(scan.validLength) : null;
        db.insertMedia(id, report.owner, Math.floor(born), Math.floor(born), null);
        db.updateMedia(id, {
          state: ended ? 'complete' : 'live',
          first_byte_at: Math.floor(born),
          completed_at: ended ? Math.floor(stat.mtimeMs) : null,
          byte_length: scan.validLength,
          block_count: scan.offsets.length,
          byte_order: scan.byteOrder,
          sha256,
          block_runs: runs ? JSON.stringify(runs) : null,
        });
        report.recovered.push({
          id,
          state: ended ? 'complete' : 'live',
          byteLength: scan.validLength,
          sha256,
        });
      }
      for (const row of db.damagedMedia()) {
        const path = join(mediaDir, `${row.media_id}.mxc`);
        if (existsSync(path) && fileMatches(path, row, config.limits.maxBlockLength)) {
          db.updateMedia(row.media_id, { damage: null });
          report.cleared.push(row.media_id);
        } else {
          report.stillDamaged.push({ id: row.media_id, damage: row.damage ?? '' });
        }
      }
    } finally {
      db.close();
    }
    return report;
  } finally {
    unlock();
  }
}

/** Whether a damaged media's file is whole again (e.g. restored from a backup). */
function fileMatches(
  path: string,
  row: { state: string; byte_length: number; sha256: string | null },
  maxBlockLength: number,
): boolean {
  // A live media's file is re-read and cut back to a whole block on start, like after a crash.
  if (row.state === 'live') return true;
  const scan = scanMediaFile(path, maxBlockLength);
  if (scan.validLength !== row.byte_length || statSync(path).size !== row.byte_length) return false;
  return row.sha256 === null || scan.hasher.digest('base64').replace(/=+$/, '') === row.sha256;
}

function moveAside(dataDir: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const target = join(dataDir, `relay.db.unreadable-${stamp}`);
  renameSync(join(dataDir, 'relay.db'), target);
  for (const suffix of ['-wal', '-shm']) {
    const side = join(dataDir, `relay.db${suffix}`);
    if (existsSync(side)) renameSync(side, `${target}${suffix}`);
  }
  return target;
}
