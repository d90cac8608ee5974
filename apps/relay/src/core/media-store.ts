/**
 * The relay's media: creates ids, loads records (re-scanning files), appends validated blocks
 * (file, hash, index, fan-out — in that order, in one synchronous step, so a reader that sees a
 * byte length can read those bytes and a listener that joins at it misses nothing), runs the group
 * flush and the expiry sweep, and moves media through pending → live → complete | cancelled.
 * Every block append and row write of a media goes through the storage engine's synchronous code
 * (storage/embedded-media-storage.ts), on the records themselves: the code the storage contract
 * suite runs.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MAGIC, type FramedBlock } from '@mxcast/format';
import { makeSharedBlock } from '../fanout/shared-block.ts';
import { GroupFlush } from '../storage/group-flush.ts';
import { ListenerTally } from '../storage/listener-tally.ts';
import { EmbeddedMediaStorage } from '../storage/embedded-media-storage.ts';
import { StorageError, type AppendOutcome, type MediaUpdate } from '../storage/media-storage.ts';
import type { DeclaredStreamGeometry } from '@mxcast/protocol';
import { MediaRecord } from '../storage/media-record.ts';
import { ReadCache } from '../storage/read-cache.ts';
import { checkDatabaseNotLost, mediaFileIds } from '../storage/database-check.ts';
import {
  pendingMediaRow,
  type MediaRow,
  type MediaState,
  type RelayDatabase,
} from '../storage/relay-database.ts';
import { isMediaId, newMediaId } from './media-id.ts';
import { damagedError, MediaIntegrity } from './media-integrity.ts';
import type { RelayConfig } from './relay-config.ts';
import { RelayError } from './relay-error.ts';
import type { RelayMetrics } from './relay-metrics.ts';
import { LiveIdleWatch } from './live-idle-watch.ts';
import { ClusterReplica, clusterUnavailableError, type ReplicaHost } from './cluster-replica.ts';
import { UserQuotas } from './user-quotas.ts';

/**
 * What a reader of a cancelled media is answered (404, docs/protocol.md): its owner cancelled it,
 * or it expired unused while the reader waited for its first byte (the sweep ends its hub with
 * reason `expired`).
 */
export function cancelledError(rec: MediaRecord): RelayError {
  if (rec.hub.ended?.reason === 'expired')
    return new RelayError('M_NOT_FOUND', 'media expired: no upload before unused_expires_at');
  return new RelayError('M_NOT_FOUND', 'media was cancelled by its owner');
}

/** An upload that lost a race for its media to another cluster node's (docs/protocol.md). */
export function lostRaceError(): RelayError {
  return new RelayError('M_CONFLICT', 'another upload stored blocks of this media first', {
    fields: { 'org.matrix.msc4016.reason': 'BLOCK_CONFLICT' },
  });
}

/**
 * A refusal by the storage engine where the relay is its only writer (data-dir-lock.ts): memory
 * and disk disagree, a relay bug — 500, never a client's fault.
 */
function internalStorageError(err: unknown): unknown {
  if (!(err instanceof StorageError)) return err;
  return new RelayError('M_UNKNOWN', `internal: ${err.message}`);
}

/** A finished (or still pending) media unused this long is dropped from memory. */
const IDLE_EVICT_MS = 60_000;

/** What create() answers: the id and its expiry (no record is kept until the id is used). */
export interface CreatedMedia {
  id: string;
  owner: string;
  unusedExpiresAt: number;
}

export class MediaStore implements ReplicaHost {
  private readonly records = new Map<string, MediaRecord>();
  /** The media appended to since the last group flush: all it visits. */
  private readonly dirty: GroupFlush;
  readonly quotas: UserQuotas;
  readonly mediaDir: string;
  /** The storage engine every append and row write goes through (its records are its media). */
  readonly storage: EmbeddedMediaStorage;
  /** Damage detection and cheap reloads of finished media (media-integrity.ts). */
  private readonly integrity: MediaIntegrity;
  private flushTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private statusTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  /** Interrupted and idle-ended live media (core/live-idle-watch.ts). */
  private readonly idleWatch: LiveIdleWatch;
  /** Upload connections open per user (the maxLiveUploadsPerUser limit). */
  readonly uploadsByUser = new Map<string, number>();
  /** The relay's listener totals: moved only by MediaRecord.join, with the media's own counts. */
  private readonly listenerTotals = new ListenerTally();
  /** Cluster mode: the write-through and adoption of media with JetStream; null when embedded. */
  readonly replica: ClusterReplica | null;

  constructor(
    private readonly config: RelayConfig,
    private readonly db: RelayDatabase,
    private readonly metrics: RelayMetrics,
  ) {
    this.mediaDir = join(config.dataDir, 'media');
    // Its open media are this store's records (sync variants only).
    const { maxBlockLength } = config.limits;
    const readCache = new ReadCache(config.limits.historyCacheBytes);
    metrics.historyCache = () => readCache.stats();
    this.storage = new EmbeddedMediaStorage(db, this.mediaDir, maxBlockLength, true, readCache);
    this.dirty = new GroupFlush(db, (rec) => this.records.get(rec.id) === rec);
    metrics.mediaInMemory = () => this.records.size;
    this.quotas = new UserQuotas(db, config.limits, metrics, (owner) =>
      this.dirty.unflushedBytes(owner),
    );
    this.integrity = new MediaIntegrity(config, db, metrics, (id) => this.filePath(id), readCache);
    this.idleWatch = new LiveIdleWatch(config.limits, metrics, {
      // The watch fires and forgets: a refusal (memory and row disagree, or the cluster is out
      // of reach) is logged, never an unhandled rejection that would end the process.
      end: (rec) =>
        this.complete(rec).catch((err: unknown) =>
          this.log(`media ${rec.id}: ending idle failed: ${(err as Error).message}`),
        ),
      event: (rec, what) => this.mediaEvent(rec, what),
    });
    this.replica = config.cluster ? new ClusterReplica(config.cluster, config, this) : null;
  }

  /**
   * Recovers every live media (cut back to its last whole block) and starts the timers. Pending
   * ids are not loaded: they have no bytes to recover and are read from their row when used, so
   * start-up time does not depend on how many ids were created.
   */
  start(): void {
    // A lost relay.db opens as an empty one: refuse rather than orphan every file.
    const fileIds = mediaFileIds(this.mediaDir, isMediaId);
    checkDatabaseNotLost(this.config.dataDir, this.db.mediaCount(), fileIds);
    for (const row of this.db.liveMedia()) this.load(row);
    this.integrity.checkFinishedOnStart();
    this.integrity.reportOrphans(fileIds);
    this.flushTimer = setInterval(() => void this.flushAll(), this.config.flushIntervalMs);
    this.flushTimer.unref();
    const sweepMs = Math.max(1000, Math.min(60_000, this.config.limits.unusedExpiryMs));
    this.sweepTimer = setInterval(() => this.sweepExpired(), sweepMs);
    this.sweepTimer.unref();
    this.statusTimer = setInterval(() => {
      for (const rec of this.records.values())
        if (rec.state === 'live') rec.hub.refreshStatus(() => rec.statusMessage());
    }, this.config.statusIntervalMs);
    this.statusTimer.unref();
    this.idleTimer = setInterval(
      () => this.idleWatch.check(this.records.values(), Date.now()),
      this.idleWatch.intervalMs,
    );
    this.idleTimer.unref();
  }

  get liveCount(): number {
    let n = 0;
    for (const rec of this.records.values()) if (rec.state === 'live') n++;
    return n;
  }

  /** Media records held in memory (live, in use, recently used): not pending ids nobody used. */
  get recordsInMemory(): number {
    return this.records.size;
  }

  /** Records the next group flush will visit. */
  get dirtyCount(): number {
    return this.dirty.size;
  }

  get activeUploads(): number {
    let n = 0;
    for (const v of this.uploadsByUser.values()) n += v;
    return n;
  }

  /**
   * Reserves an id for `owner` (quotas permitting): only its row is written; get() reads it
   * back when the id is used, so an id that is never used costs no memory (an attacker's
   * thousands of creates stay on disk, and expire there).
   */
  create(owner: string, geometry: DeclaredStreamGeometry | null): CreatedMedia {
    const now = Date.now();
    this.quotas.checkCreate(owner, now);
    const id = newMediaId();
    const expires = now + this.config.limits.unusedExpiryMs;
    const row = pendingMediaRow(
      id,
      owner,
      now,
      expires,
      geometry ? JSON.stringify(geometry) : null,
    );
    this.insertRow(row);
    this.replica?.created(row);
    this.quotas.created(owner);
    this.metrics.mediaCreated++;
    return { id, owner, unusedExpiresAt: expires };
  }

  /** The media `serverName/id`, or undefined (unknown server, malformed id, expired, deleted). */
  get(serverName: string, id: string): MediaRecord | undefined {
    if (serverName !== this.config.serverName || !isMediaId(id)) return undefined;
    let rec = this.records.get(id);
    if (!rec) {
      const row = this.db.getMedia(id);
      if (!row) return undefined;
      rec = this.load(row);
    }
    if (rec.state === 'pending' && !rec.uploader && rec.unusedExpiresAt < Date.now()) {
      this.forget(rec);
      return undefined;
    }
    rec.lastAccess = Date.now();
    return rec;
  }

  /**
   * Like get() but throws M_NOT_FOUND, and `500 DAMAGED` for a damaged media unless the caller
   * allows it (the owner's DELETE, which must still work on it).
   */
  require(serverName: string, id: string, options: { damaged?: 'allow' } = {}): MediaRecord {
    const rec = this.get(serverName, id);
    if (!rec)
      throw new RelayError('M_NOT_FOUND', `no media mxc://${serverName}/${id.slice(0, 64)}`);
    if (rec.damage !== null && options.damaged !== 'allow') throw damagedError(rec);
    return rec;
  }

  /**
   * require() for readers (download, index, HLS, WebSocket listen): waits while a reloaded
   * finished media's file is checked off the event loop, so no unchecked byte goes out as whole.
   */
  async requireReadable(serverName: string, id: string): Promise<MediaRecord> {
    await this.adopt(serverName, id, true);
    const rec = this.require(serverName, id);
    if (rec.checking) await rec.checking;
    if (rec.damage !== null) throw damagedError(rec);
    return rec;
  }

  filePath(id: string): string {
    return this.storage.filePath(id);
  }

  /**
   * Stores validated blocks in order. Throws (after storing the blocks before it) when a block would
   * pass the media size limit or the live duration limit.
   */
  commitBlocks(rec: MediaRecord, blocks: readonly FramedBlock[]): void {
    const { maxMediaBytes, maxLiveDurationMs } = this.config.limits;
    if (this.replica?.hasLost(rec)) throw lostRaceError();
    // Blocks mirrored from the cluster were accepted by the uploading node's quotas already.
    if (blocks.length > 0 && !this.replica?.applying) {
      // Per-user quotas: the live and stored counts when a media turns live, the byte quota for
      // every block (all of a batch at once when it fits, so the common case is one comparison).
      if (rec.byteLength === 0) this.quotas.checkFirstByte(rec.owner, Date.now());
      const last = blocks[blocks.length - 1] as FramedBlock;
      const magic = rec.byteLength === 0 ? MAGIC.length : 0;
      const batch = last.offset + last.bytes.length - Math.max(rec.byteLength, MAGIC.length);
      const stored = this.quotas.storedBytes(rec.owner);
      if (stored + magic + batch > this.config.limits.maxStoredBytesPerUser)
        this.commitWithinByteQuota(rec, blocks);
    }
    for (const b of blocks) {
      const end = b.offset + b.bytes.length;
      if (end > maxMediaBytes) {
        throw new RelayError(
          'M_TOO_LARGE',
          `block ${b.seq} would make the media ${end} bytes, over the limit of ${maxMediaBytes}`,
        );
      }
      const now = Date.now();
      if (rec.firstByteAt !== null && now - rec.firstByteAt > maxLiveDurationMs) {
        throw new RelayError(
          'M_LIMIT_EXCEEDED',
          `media has been live ${now - rec.firstByteAt} ms, over the limit of ${maxLiveDurationMs} ms`,
        );
      }
      if (rec.byteLength === 0) this.beginBytes(rec, b, now);
      const before = rec.byteLength;
      const shared = makeSharedBlock(b.seq, b.offset, b.bytes);
      // Offset check, file append, block index and byte length: the engine's (the framer already
      // checked the index: b.seq is the next block). A byte-identical retry stores nothing.
      if (this.appendStored(rec, b.seq, b.offset, shared.bytes) === 'duplicate') continue;
      rec.hasher?.update(shared.bytes);
      this.quotas.addBytes(rec.owner, end - before);
      rec.dbDirty = true;
      this.dirty.add(rec);
      this.metrics.bytesIn += shared.bytes.length;
      this.metrics.blocksIn++;
      rec.hub.publish(shared);
      this.replica?.appended(rec, [b]);
    }
    if (blocks.length > 0) this.idleWatch.blockStored(rec, Date.now());
  }

  /** Completes a live media: final hash, flushed to disk, listeners told. */
  async complete(rec: MediaRecord): Promise<void> {
    const from = rec.state;
    rec.state = 'complete';
    rec.completedAt = Date.now();
    rec.sha256 = (rec.hasher?.digest('base64') ?? '').replace(/=+$/, '');
    rec.hasher = null;
    this.replica?.moved(rec, 'live', {
      state: 'complete',
      completed_at: rec.completedAt,
      sha256: rec.sha256,
      byte_length: rec.byteLength,
      block_count: rec.blockCount,
    });
    const runs = rec.offsets.toRuns(rec.byteLength);
    this.moveRow(rec.id, from, {
      state: 'complete',
      completed_at: rec.completedAt,
      sha256: rec.sha256,
      byte_length: rec.byteLength,
      block_count: rec.blockCount,
      block_runs: runs ? JSON.stringify(runs) : null,
    });
    this.quotas.invalidate(rec.owner);
    this.metrics.mediaCompleted++;
    rec.hub.end('complete');
    rec.notifyChange();
    this.mediaEvent(rec, 'complete');
    await rec.file?.flush();
    // Written by this process, hashed as it arrived: a reload need not re-hash it.
    this.integrity.trust(rec.id);
  }

  cancel(rec: MediaRecord): void {
    const from = rec.state;
    this.replica?.moved(rec, rec.state, {
      state: 'cancelled',
      byte_length: rec.byteLength,
      block_count: rec.blockCount,
    });
    rec.state = 'cancelled';
    this.moveRow(rec.id, from, {
      state: 'cancelled',
      byte_length: rec.byteLength,
      block_count: rec.blockCount,
    });
    this.quotas.invalidate(rec.owner);
    rec.hub.end('cancelled');
    rec.notifyChange();
    this.mediaEvent(rec, 'cancelled');
  }

  /** Deletes the media, its row and its file. */
  remove(rec: MediaRecord): void {
    if (rec.state === 'live' || rec.state === 'pending') {
      rec.state = 'cancelled';
      rec.hub.end('cancelled');
      rec.notifyChange();
    }
    this.mediaEvent(rec, 'deleted');
    this.forget(rec);
  }

  setUploadLength(rec: MediaRecord, length: number): void {
    rec.uploadLength = length;
    this.db.updateMedia(rec.id, { upload_length: length });
  }

  /** The group flush: fdatasync of the media appended to since the last one, then their rows. */
  flushAll(): Promise<void> {
    return this.dirty.flush();
  }

  async close(): Promise<void> {
    for (const t of [this.flushTimer, this.sweepTimer, this.statusTimer, this.idleTimer])
      if (t) clearInterval(t);
    await this.flushAll();
    await this.replica?.close();
    for (const rec of this.records.values()) await rec.file?.close();
    this.records.clear();
    this.dirty.clear();
  }

  private beginBytes(rec: MediaRecord, first: FramedBlock, now: number): void {
    const from = rec.state;
    this.storage.beginSync(rec);
    rec.hasher = createHash('sha256').update(MAGIC);
    this.metrics.bytesIn += MAGIC.length;
    rec.byteOrder = first.byteOrder;
    rec.state = 'live';
    rec.firstByteAt = now;
    this.moveRow(rec.id, from, { state: 'live', first_byte_at: now, byte_order: first.byteOrder });
    this.replica?.moved(rec, 'pending', {
      state: 'live',
      first_byte_at: now,
      byte_order: first.byteOrder,
    });
    this.quotas.turnedLive(rec.owner);
    rec.notifyChange();
    this.mediaEvent(rec, 'live');
  }

  /**
   * Cluster mode: makes a media another node created known here before a route looks it up
   * (core/cluster-replica.ts); nothing when embedded or already known.
   */
  async adopt(serverName: string, id: string, reading = false): Promise<void> {
    if (!this.replica || serverName !== this.config.serverName || !isMediaId(id)) return;
    // A local copy not yet checked against the cluster in this process (one left by a previous
    // run, or a half-done adoption) is reconciled first: JetStream is the source of truth.
    if (this.replica.isSynced(id)) {
      // A reader of a media created here whose upload went to another node (or moved there on
      // failover) needs the tail, like any adopter; one uploaded here has its bytes already.
      if (!reading || this.replica.isFollowing(id)) return;
      const rec = this.records.get(id);
      if (rec && (rec.uploader !== null || rec.state === 'complete' || rec.state === 'cancelled'))
        return;
    }
    try {
      await this.replica.adopt(id);
    } catch (err) {
      if (err instanceof RelayError) throw err;
      throw clusterUnavailableError(`media ${id} (${(err as Error).message})`);
    }
  }

  /** ReplicaHost: the local record of `id`, if any. */
  localRecord(id: string): MediaRecord | undefined {
    return this.get(this.config.serverName, id);
  }

  /** ReplicaHost: another node deleted the media (the replica does not write this back). */
  removedElsewhere(rec: MediaRecord): void {
    this.remove(rec);
  }

  /** ReplicaHost: the local cache row of a media adopted from the cluster, as pending. */
  adoptRow(row: MediaRow): MediaRecord | undefined {
    if (!this.db.getMedia(row.media_id)) {
      // An adopted media that already has bytes must not expire here as an unused id.
      const expires = row.state === 'pending' ? row.unused_expires_at : Number.MAX_SAFE_INTEGER;
      this.insertRow({
        ...pendingMediaRow(row.media_id, row.owner, row.created_at, expires, row.geometry),
        upload_length: row.upload_length,
      });
    }
    return this.get(this.config.serverName, row.media_id);
  }

  /** ReplicaHost: blocks another node stored, into this node's cache and hub. */
  mirrorBlocks(rec: MediaRecord, blocks: FramedBlock[]): void {
    this.commitBlocks(rec, blocks);
  }

  /**
   * ReplicaHost: this node's upload lost to another node's; its local copy (row, file, record)
   * goes without touching the cluster's, and the next request adopts the winner's media.
   */
  lostRace(rec: MediaRecord): void {
    if (this.records.get(rec.id) === rec) this.records.delete(rec.id);
    rec.hub.end('cancelled');
    rec.notifyChange();
    void this.storage.deleteMediaSync(rec.id, rec);
    this.quotas.invalidate(rec.owner);
  }

  /** ReplicaHost: a state another node moved the media to. */
  async mirrorState(rec: MediaRecord, row: MediaRow): Promise<void> {
    if (row.state === 'complete' && rec.state === 'live') await this.complete(rec);
    else if (row.state === 'cancelled' && rec.state !== 'cancelled') this.cancel(rec);
  }

  /** WebSocket connections held for listening (listeners and acknowledgement sockets). */
  get wsListeners(): number {
    return this.listenerTotals.sockets;
  }

  /** HTTP downloads being served. */
  get httpListeners(): number {
    return this.listenerTotals.http;
  }

  private load(row: MediaRow): MediaRecord {
    const geometry = row.geometry ? (JSON.parse(row.geometry) as MediaRecord['geometry']) : null;
    const rec = new MediaRecord(
      row.media_id,
      row.owner,
      row.created_at,
      row.unused_expires_at,
      geometry,
      this.config.fanoutSliceSize,
      this.listenerTotals,
    );
    rec.state = row.state;
    rec.firstByteAt = row.first_byte_at;
    rec.completedAt = row.completed_at;
    rec.sha256 = row.sha256;
    rec.uploadLength = row.upload_length;
    rec.byteOrder = row.byte_order;
    rec.damage = row.damage;
    rec.byteLength = row.byte_length;
    this.records.set(rec.id, rec);
    if (rec.damage !== null) return rec;
    if (row.state === 'live') this.recoverLive(rec, row);
    else if (row.state !== 'pending') this.integrity.reopenFinished(rec, row);
    return rec;
  }

  /**
   * Crash recovery of a live media (on start): re-read with the upload framer and cut back to the
   * end of the last whole valid block; the uploader resumes from there (tus HEAD). A missing file
   * is damage, not "no bytes yet": the blocks listeners already got are gone.
   */
  private recoverLive(rec: MediaRecord, row: MediaRow): void {
    if (!existsSync(this.filePath(row.media_id)))
      return this.integrity.markDamaged(rec, 'file missing');
    const scan = this.storage.scanSync(row.media_id);
    // The stored length is written only after a group flush made those bytes durable, and the
    // magic and first block are flushed before it: a file with no valid block at all lost what
    // listeners already got (emptied, overwritten), which no crash does.
    if (scan.validLength === 0 && row.byte_length > 0) {
      const what = `file has no valid block (${scan.stoppedBy ?? 'empty'}), ${row.byte_length} bytes were stored`;
      return this.integrity.markDamaged(rec, what);
    }
    rec.byteOrder = scan.byteOrder ?? row.byte_order;
    // Drop whatever follows the last whole valid block (a partial block, or bytes the disk kept
    // out of order).
    const size = this.storage.recoverSync(rec, scan);
    if (size !== scan.validLength) {
      this.log(
        `recovered ${row.media_id}: cut ${size} → ${scan.validLength} bytes (${scan.stoppedBy})`,
      );
    }
    rec.hasher = scan.hasher;
    if (scan.validLength === 0) rec.state = 'pending';
    if (
      row.byte_length !== scan.validLength ||
      row.block_count !== scan.offsets.length ||
      rec.state !== row.state
    ) {
      this.moveRow(row.media_id, row.state, {
        state: rec.state,
        byte_length: scan.validLength,
        block_count: scan.offsets.length,
      });
    }
  }

  private forget(rec: MediaRecord): void {
    this.integrity.forget(rec.id);
    this.replica?.deleted(rec.id);
    // Only an expired id gets here unfinished (remove() ends its media first): its WebSocket
    // listeners get `end` (cancelled, reason expired) and are closed, downloads waiting for its
    // first byte are answered 404 (docs/protocol.md), so nothing stays open on a media now gone.
    if (rec.state === 'pending' || rec.state === 'live') {
      rec.state = 'cancelled';
      rec.hub.end('cancelled', 'expired');
      rec.notifyChange();
    }
    this.records.delete(rec.id);
    void this.storage.deleteMediaSync(rec.id, rec);
    this.quotas.invalidate(rec.owner);
  }

  /**
   * Drops finished media nobody has asked for in a while from memory (their block index is
   * rebuilt from the file on the next request), and pending ones nobody waits on (their row is
   * all there is), so a long-running relay holds only what is in use. Also drops the per-user
   * byte tallies, re-seeded from the database on next use, so they cannot drift for long.
   */
  private evictIdle(): void {
    this.quotas.clear();
    const before = Date.now() - IDLE_EVICT_MS;
    for (const rec of this.records.values()) {
      const finished = rec.state === 'complete' || rec.state === 'cancelled';
      const unusedPending =
        rec.state === 'pending' && rec.changeWaiters.size === 0 && rec.hub.size === 0;
      if (
        (finished || unusedPending) &&
        rec.listeners === 0 &&
        !rec.uploader &&
        rec.lastAccess < before &&
        !rec.dbDirty &&
        !this.dirty.has(rec)
      ) {
        this.records.delete(rec.id);
        void rec.file?.close();
        rec.file = null;
      }
    }
  }

  private sweepExpired(): void {
    this.evictIdle();
    for (const id of this.db.expiredPending(Date.now())) {
      const rec = this.records.get(id);
      if (rec) {
        if (rec.uploader) continue;
        this.mediaEvent(rec, 'expired');
        this.forget(rec);
      } else {
        void this.storage.deleteMediaSync(id, null);
      }
    }
  }

  /**
   * Stores the blocks of a batch that fit in the owner's byte quota, then refuses the first that
   * does not (M_TOO_LARGE, like maxMediaBytes: what was stored stays).
   */
  private commitWithinByteQuota(rec: MediaRecord, blocks: readonly FramedBlock[]): never {
    const limit = this.config.limits.maxStoredBytesPerUser;
    const stored = this.quotas.storedBytes(rec.owner);
    let more = rec.byteLength === 0 ? MAGIC.length : 0;
    let fit = 0;
    for (const b of blocks) {
      if (stored + more + b.bytes.length > limit) break;
      more += b.bytes.length;
      fit++;
    }
    if (fit > 0) this.commitBlocks(rec, blocks.slice(0, fit));
    const refused = blocks[fit] as FramedBlock;
    const magic = rec.byteLength === 0 ? MAGIC.length : 0;
    this.quotas.checkBytes(rec.owner, magic + refused.bytes.length, `block ${refused.seq}`);
    throw new RelayError('M_UNKNOWN', 'internal: the byte quota passed a block it refused');
  }

  /** A new row through the engine; an existing id (a 128-bit random collision) is a relay bug. */
  private insertRow(row: MediaRow): void {
    try {
      this.storage.insertMediaSync(row);
    } catch (err) {
      throw internalStorageError(err);
    }
  }

  /** A row's state move through the engine's compare-and-set, from the state memory had. */
  private moveRow(id: string, from: MediaState, fields: MediaUpdate): void {
    try {
      this.storage.updateMediaSync(id, from, fields);
    } catch (err) {
      throw internalStorageError(err);
    }
  }

  /** One block through the engine (embedded-media-storage.ts appendSync). */
  private appendStored(
    rec: MediaRecord,
    index: number,
    offset: number,
    bytes: Uint8Array,
  ): AppendOutcome {
    try {
      return this.storage.appendSync(rec, index, offset, bytes);
    } catch (err) {
      throw internalStorageError(err);
    }
  }

  /**
   * One info line per state change (docs/operations.md "Logging"): the media id, never its
   * owner's token, a key or a title (the relay has neither of the last two).
   */
  private mediaEvent(rec: MediaRecord, state: string): void {
    this.config.logger.info('media', { id: rec.id, state, bytes: rec.byteLength });
  }

  log(line: string): void {
    this.config.log?.(line);
  }
}
