/**
 * Damage is detected, never served as whole (docs/operations.md "Damage and repair"). A finished
 * media's file must be exactly the bytes its completion hash covers; when it is shorter, longer,
 * missing or its sha256 differs, the media is marked damaged — in its row, in one log line (id and
 * what is wrong, never a key or a title), in /metrics — and every reader gets
 * `500 M_UNKNOWN` with reason `DAMAGED` and `Cache-Control: no-store`, never the original ETag or
 * immutable headers a cache in front would keep forever.
 *
 * Reloading is cheap and never stalls the event loop: a stat compares the size with the stored
 * length, the block index comes back from the runs persisted at completion (offset-list.ts), and
 * the sha256 is checked once per file and process by chunked async reads (media-verify.ts), while
 * readers of that media — only of that one — wait.
 */
import { statSync } from 'node:fs';
import { MediaFile } from '../storage/media-file.ts';
import type { ReadCache } from '../storage/read-cache.ts';
import type { MediaRecord } from '../storage/media-record.ts';
import { sizeDamage, verifyMediaFile } from '../storage/media-verify.ts';
import { OffsetList } from '../storage/offset-list.ts';
import type { MediaRow, RelayDatabase } from '../storage/relay-database.ts';
import type { RelayConfig } from './relay-config.ts';
import { RelayError } from './relay-error.ts';
import type { RelayMetrics } from './relay-metrics.ts';

export const DAMAGED_REASON = 'DAMAGED';

/**
 * Files checked at once. Each check keeps one read in libuv's thread pool (4 threads by default),
 * which the group flush (fdatasync) and history reads share: after a restart, listeners coming
 * back to many finished media queue here instead of filling the pool.
 */
const MAX_CONCURRENT_CHECKS = 2;

/** The answer to any read of a damaged media. */
export function damagedError(rec: MediaRecord): RelayError {
  return new RelayError(
    'M_UNKNOWN',
    `media ${rec.id} is damaged on this relay: its stored bytes no longer match what was uploaded`,
    { fields: { 'org.matrix.msc4016.reason': DAMAGED_REASON } },
  );
}

export class MediaIntegrity {
  /**
   * Files whose sha256 this process has checked (or written itself), by media id: inode, size
   * and mtime then. A reload after idle eviction with the same fingerprint skips re-hashing.
   */
  private readonly verified = new Map<string, string>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly config: RelayConfig,
    private readonly db: RelayDatabase,
    private readonly metrics: RelayMetrics,
    private readonly filePath: (id: string) => string,
    /** History reads shared between readers (storage/read-cache.ts). */
    private readonly readCache: ReadCache | null = null,
  ) {}

  /**
   * On start: every finished media not yet known damaged gets a stat (size against the stored
   * length). The sha256 is checked when the media is first asked for (reopenFinished).
   */
  checkFinishedOnStart(): void {
    for (const { media_id: id, byte_length: expected } of this.db.finishedMedia()) {
      const size = fileSize(this.filePath(id));
      if (size === null && expected === 0) continue;
      if (size === null) this.record(id, 'file missing');
      else if (size !== expected) this.record(id, sizeDamage(size, expected));
    }
  }

  /**
   * Reopens a complete or cancelled media: size check now, block index from the persisted runs,
   * and — unless this process already checked this very file — the sha256 (and the index, when
   * no runs were persisted) off the event loop in `rec.checking`.
   */
  reopenFinished(rec: MediaRecord, row: MediaRow): void {
    const path = this.filePath(rec.id);
    let stat;
    try {
      stat = statSync(path);
    } catch {
      if (row.byte_length === 0) return;
      return this.markDamaged(rec, 'file missing');
    }
    if (stat.size !== row.byte_length)
      return this.markDamaged(rec, sizeDamage(stat.size, row.byte_length));
    rec.byteLength = row.byte_length;
    rec.file = new MediaFile(path, this.readCache);
    const offsets = row.block_runs
      ? OffsetList.fromRuns(parseJson(row.block_runs), row.byte_length)
      : null;
    if (offsets) rec.offsets = offsets;
    const fingerprint = `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    const hashed = row.sha256 === null || this.verified.get(rec.id) === fingerprint;
    if (offsets && hashed) return;
    rec.checking = this.inTurn(() => this.check(rec, row, offsets === null, fingerprint))
      .catch((err: unknown) => {
        // Not even the mark could be written (the database closed under a shutdown): refuse in
        // memory, never serve unchecked; the next start checks again.
        rec.damage ??= `not checked (${(err as Error).message})`;
      })
      .finally(() => {
        rec.checking = null;
      });
  }

  /**
   * One line when media files have no row (an older relay.db restored from a backup, or a
   * deletion cut short by a crash): they are not served until `--repair` rebuilds their rows.
   */
  reportOrphans(fileIds: readonly string[]): void {
    const orphans = fileIds.filter((id) => !this.db.getMedia(id));
    if (orphans.length === 0) return;
    this.config.log?.(
      `${orphans.length} media file(s) in media/ have no row in relay.db (e.g. ${orphans[0]}): ` +
        'not served; `mxcast relay --repair` rebuilds their rows, or delete the files',
    );
  }

  /** The relay wrote this file itself and just completed it: no need to re-hash it on reload. */
  trust(id: string): void {
    const path = this.filePath(id);
    try {
      const stat = statSync(path);
      this.verified.set(id, `${stat.ino}:${stat.size}:${stat.mtimeMs}`);
    } catch {
      // Nothing to trust: the next reload finds it missing.
    }
  }

  forget(id: string): void {
    this.verified.delete(id);
  }

  /** Marks a loaded media damaged: closes its file, persists, logs, counts. */
  markDamaged(rec: MediaRecord, what: string): void {
    rec.damage = what;
    const file = rec.file;
    rec.file = null;
    void file?.close();
    this.record(rec.id, what);
  }

  private async check(
    rec: MediaRecord,
    row: MediaRow,
    walk: boolean,
    fingerprint: string,
  ): Promise<void> {
    let result;
    try {
      result = await verifyMediaFile({
        path: this.filePath(rec.id),
        byteLength: row.byte_length,
        sha256: this.verified.get(rec.id) === fingerprint ? null : row.sha256,
        walk,
        byteOrder: row.byte_order ?? 'be',
        maxBlockLength: this.config.limits.maxBlockLength,
      });
    } catch (err) {
      // A read error (EIO, a file that vanished mid-read): unchecked bytes are not served whole.
      result = {
        damage: `unreadable (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        offsets: null,
      };
    }
    if (result.damage !== null) return this.markDamaged(rec, result.damage);
    if (row.sha256 !== null) this.verified.set(rec.id, fingerprint);
    if (result.offsets) {
      rec.offsets = result.offsets;
      // Media completed before runs were persisted: persist them now, once.
      const runs = result.offsets.toRuns(row.byte_length);
      if (runs) this.db.updateMedia(rec.id, { block_runs: JSON.stringify(runs) });
    }
  }

  /** Runs `work` when one of MAX_CONCURRENT_CHECKS slots is free (a finished one hands it on). */
  private async inTurn(work: () => Promise<void>): Promise<void> {
    if (this.running < MAX_CONCURRENT_CHECKS) this.running++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  private record(id: string, what: string): void {
    this.db.updateMedia(id, { damage: what });
    this.metrics.mediaDamaged++;
    this.config.log?.(
      `media ${id} damaged: ${what}; answered 500 DAMAGED until repaired or deleted`,
    );
  }
}

function fileSize(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}
