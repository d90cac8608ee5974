/**
 * The storage contract (media-storage.ts) over the embedded engine: rows in SQLite
 * (relay-database.ts) and one append-only file per media under `<data>/media/` (media-file.ts),
 * `MAGIC` then the blocks as uploaded, so a finished file is the MSC4016 object byte for byte.
 *
 * This is the code the relay runs in embedded mode (and for a cluster node's local cache):
 * MediaStore (core/media-store.ts) calls the synchronous variants — appendSync, beginSync,
 * recoverSync, insertMediaSync, updateMediaSync, deleteMediaSync — on its own records, which are
 * this engine's open media (one MediaFile and one offset list per media), so a block's file
 * append, hash, index and fan-out still happen in one synchronous step (docs/architecture.md
 * "Storage contract and JetStream mapping"). The async contract methods wrap the same code, over a
 * table of open media of their own (opened by a framer scan on first use, as the relay does on
 * start), for callers without a MediaStore: the contract suite, which so guards the code the
 * relay runs. One process never opens one media through both.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MAGIC } from '@mxcast/format';
import { MediaFile } from './media-file.ts';
import type { ReadCache } from './read-cache.ts';
import { scanMediaFile, type ScanResult } from './media-scan.ts';
import type {
  AppendOutcome,
  BlockTail,
  MediaRow,
  MediaState,
  MediaStorage,
  MediaUpdate,
  StoredBlock,
  TokenRow,
} from './media-storage.ts';
import { StorageError } from './media-storage.ts';
import { OffsetList } from './offset-list.ts';
import { RelayDatabase } from './relay-database.ts';

/**
 * One media open for appends and reads: what the engine keeps per media. MediaStore's records
 * (media-record.ts) are exactly this, so the engine works on them in place.
 */
export interface OpenMedia {
  readonly id: string;
  /** The media's file; null until its first byte (or once closed). */
  file: MediaFile | null;
  /** Where each stored block starts. */
  offsets: OffsetList;
  /** End of the last stored block (0 before the first: not even the magic is written). */
  byteLength: number;
}

type TailListener = (b: StoredBlock) => void;

export class EmbeddedMediaStorage implements MediaStorage {
  readonly kind = 'embedded' as const;
  /** The async contract methods' open media (never MediaStore's records: see the header). */
  private readonly open = new Map<string, OpenMedia>();
  private readonly tails = new Map<string, Set<TailListener>>();
  private ownsDb = false;

  constructor(
    private readonly db: RelayDatabase,
    readonly mediaDir: string,
    private readonly maxBlockLength: number,
    /**
     * The caller keeps the open media (MediaStore: its records) and uses only the synchronous
     * variants: the async methods that would open a media file or drop one refuse, so no media
     * is ever open twice (two MediaFiles on one file would each append its blocks).
     */
    private readonly openMediaElsewhere = false,
    /** History reads shared between readers of the same bytes (read-cache.ts); none by default. */
    private readonly readCache: ReadCache | null = null,
  ) {
    mkdirSync(mediaDir, { recursive: true });
  }

  /** A store on a data dir of its own, owning its database (closed by close()). */
  static openDataDir(dataDir: string, maxBlockLength: number): EmbeddedMediaStorage {
    const store = new EmbeddedMediaStorage(
      new RelayDatabase(dataDir),
      join(dataDir, 'media'),
      maxBlockLength,
    );
    store.ownsDb = true;
    return store;
  }

  filePath(id: string): string {
    return join(this.mediaDir, `${id}.mxc`);
  }

  // ---- Synchronous engine: what MediaStore calls, and what the async contract wraps. ----

  /** Stores a new media row; StorageError conflict if the id exists. */
  insertMediaSync(row: MediaRow): void {
    try {
      this.db.insertMediaRow(row);
    } catch (err) {
      if ((err as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT'))
        throw new StorageError('conflict', `media ${row.media_id} exists`);
      throw err;
    }
  }

  /**
   * Applies `fields` if the row's state is still `expect`: one UPDATE … WHERE state = expect, so
   * the compare and the set cannot be split (and the one process holding the data dir,
   * data-dir-lock.ts, is its only writer). StorageError not_found / conflict otherwise.
   */
  updateMediaSync(id: string, expect: MediaState, fields: MediaUpdate): void {
    if (this.db.updateMediaIf(id, expect, fields)) return;
    const row = this.db.getMedia(id);
    if (!row) throw new StorageError('not_found', `no media ${id}`);
    throw new StorageError(
      'conflict',
      `media ${id} is ${row.state}, not ${expect}`,
      'STATE_CHANGED',
    );
  }

  /**
   * Deletes the row now, then the file (after closing `m`'s, if open: the returned promise
   * settles once it is gone). Idempotent.
   */
  deleteMediaSync(id: string, m: OpenMedia | null): Promise<void> {
    this.db.deleteMedia(id);
    this.tails.delete(id);
    if (this.open.get(id) === m) this.open.delete(id);
    const file = m?.file ?? null;
    if (m) m.file = null;
    const path = this.filePath(id);
    if (!file) {
      rmSync(path, { force: true });
      return Promise.resolve();
    }
    return file.close().finally(() => rmSync(path, { force: true }));
  }

  /**
   * The first byte of a media: its file (opened if need be), cut to nothing — a recovered media
   * with no whole block may have left some — then the magic.
   */
  beginSync(m: OpenMedia): void {
    const file = (m.file ??= new MediaFile(this.filePath(m.id), this.readCache));
    file.truncate(0);
    file.append(MAGIC);
    m.byteLength = MAGIC.length;
  }

  /**
   * Appends block `index` at byte `offset`, exactly once and in order (the contract's
   * appendBlock): the next index at the end of the last block is appended to the file and the
   * offsets; a retry of a stored block with the same bytes is `duplicate`; anything else is
   * StorageError conflict (BLOCK_CONFLICT) and writes nothing. Synchronous and allocation-free
   * on the stored path (the caller's fan-out follows in the same step).
   */
  appendSync(m: OpenMedia, index: number, offset: number, bytes: Uint8Array): AppendOutcome {
    const next = m.offsets.length;
    if (index !== next) return this.retried(m, index, offset, bytes);
    if (offset !== Math.max(m.byteLength, MAGIC.length))
      throw conflict(m.id, index, `block ${index} at ${offset}, stored ${m.byteLength}`);
    if (m.byteLength === 0) this.beginSync(m);
    (m.file as MediaFile).append(bytes);
    m.offsets.push(offset);
    m.byteLength = offset + bytes.length;
    if (this.tails.size > 0) this.notifyTails(m.id, { index, offset, bytes });
    return 'stored';
  }

  /** Scans a media's file with the framer its upload went through (media-scan.ts). */
  scanSync(id: string): ScanResult {
    return scanMediaFile(this.filePath(id), this.maxBlockLength);
  }

  /**
   * Crash recovery (docs/operations.md "Durability and crash behaviour"): opens `m` at the end of
   * its last whole valid block as `scan` found it, cutting whatever follows (a partial block, or
   * bytes the disk kept out of order). Returns the file's size before the cut.
   */
  recoverSync(m: OpenMedia, scan: ScanResult): number {
    m.offsets = scan.offsets;
    m.byteLength = scan.validLength;
    const file = (m.file ??= new MediaFile(this.filePath(m.id), this.readCache));
    const size = file.size;
    if (size !== scan.validLength) file.truncate(scan.validLength);
    return size;
  }

  // ---- The async contract (media-storage.ts) over the same code. ----

  insertMedia(row: MediaRow): Promise<void> {
    return settle(() => this.insertMediaSync(row));
  }

  getMedia(id: string): Promise<MediaRow | undefined> {
    return Promise.resolve(this.db.getMedia(id));
  }

  updateMedia(id: string, expect: MediaState, fields: MediaUpdate): Promise<MediaRow> {
    return settle(() => {
      this.updateMediaSync(id, expect, fields);
      return this.db.getMedia(id) as MediaRow;
    });
  }

  deleteMedia(id: string): Promise<void> {
    return settle(() => this.ownOpenMedia(id)).then(() =>
      this.deleteMediaSync(id, this.open.get(id) ?? null),
    );
  }

  appendBlock(
    id: string,
    index: number,
    offset: number,
    bytes: Uint8Array,
  ): Promise<AppendOutcome> {
    return settle(() => this.appendSync(this.media(id), index, offset, bytes));
  }

  blockOffsets(id: string): Promise<number[]> {
    return settle(() => this.media(id).offsets.toArray());
  }

  async readBlock(id: string, index: number): Promise<StoredBlock | undefined> {
    const m = this.media(id);
    const offset = m.offsets.at(index);
    if (offset === undefined || !m.file) return undefined;
    const end = m.offsets.at(index + 1) ?? m.byteLength;
    const bytes = await m.file.readAt(offset, end - offset);
    return { index, offset, bytes: new Uint8Array(bytes) };
  }

  async tail(id: string, fromIndex: number, onBlock: TailListener): Promise<BlockTail> {
    const m = this.media(id);
    // Catch up to the blocks stored now, then follow: appends are synchronous after the last
    // await here, so none falls between the catch-up and the subscription.
    let next = fromIndex;
    while (next < m.offsets.length) {
      const b = await this.readBlock(id, next);
      if (b) onBlock(b);
      next++;
    }
    const listener: TailListener = (b) => {
      if (b.index >= next) onBlock(b);
    };
    const set = this.tails.get(id) ?? new Set<TailListener>();
    this.tails.set(id, set);
    set.add(listener);
    return {
      stop: () => {
        set.delete(listener);
        if (set.size === 0 && this.tails.get(id) === set) this.tails.delete(id);
        return Promise.resolve();
      },
    };
  }

  insertToken(tokenHash: string, userId: string, now: number): Promise<void> {
    this.db.insertToken(tokenHash, userId, now);
    return Promise.resolve();
  }

  tokenUser(tokenHash: string): Promise<string | undefined> {
    return Promise.resolve(this.db.tokenUser(tokenHash));
  }

  listTokens(): Promise<TokenRow[]> {
    return Promise.resolve(this.db.listTokens());
  }

  deleteToken(tokenHash: string): Promise<boolean> {
    return Promise.resolve(this.db.deleteToken(tokenHash) > 0);
  }

  async close(): Promise<void> {
    for (const m of this.open.values()) await m.file?.close();
    this.open.clear();
    this.tails.clear();
    if (this.ownsDb) this.db.close();
  }

  /** A block index other than the next: a byte-identical retry, or a conflict. */
  private retried(m: OpenMedia, index: number, offset: number, bytes: Uint8Array): AppendOutcome {
    const next = m.offsets.length;
    if (index > next || index < 0 || !Number.isInteger(index))
      throw conflict(m.id, index, `next block is ${next}, not ${index}`);
    const at = m.offsets.at(index) as number;
    const end = m.offsets.at(index + 1) ?? m.byteLength;
    if (at === offset && end - at === bytes.length && m.file) {
      if (m.file.readAtSync(at, bytes.length).equals(bytes)) return 'duplicate';
    }
    throw conflict(m.id, index, `block ${index} is stored with other bytes`);
  }

  private ownOpenMedia(id: string): void {
    if (this.openMediaElsewhere)
      throw new Error(
        `internal: media ${id}: its open file is the caller's; use the sync variants`,
      );
  }

  private notifyTails(id: string, block: StoredBlock): void {
    const set = this.tails.get(id);
    if (set) for (const t of set) t(block);
  }

  /** The async methods' open media `id`, opened by a scan (and crash cut) on first use. */
  private media(id: string): OpenMedia {
    this.ownOpenMedia(id);
    let m = this.open.get(id);
    if (m) return m;
    if (!this.db.getMedia(id)) throw new StorageError('not_found', `no media ${id}`);
    m = { id, file: null, offsets: new OffsetList(), byteLength: 0 };
    this.recoverSync(m, this.scanSync(id));
    this.open.set(id, m);
    return m;
  }
}

function conflict(id: string, index: number, why: string): StorageError {
  return new StorageError('conflict', `media ${id} block ${index}: ${why}`, 'BLOCK_CONFLICT');
}

/** A synchronous step as a settled promise: a throw becomes a rejection. */
function settle<T>(step: () => T): Promise<T> {
  try {
    return Promise.resolve(step());
  } catch (err) {
    return Promise.reject(err as Error);
  }
}
