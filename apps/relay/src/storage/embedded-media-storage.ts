/**
 * The storage contract (media-storage.ts) over the embedded engine the relay has always used:
 * rows in SQLite (relay-database.ts) and one append-only file per media under `<data>/media/`
 * (media-file.ts), `MAGIC` then the blocks as uploaded, so a finished file is the MSC4016 object
 * byte for byte. Block offsets are kept in memory per open media and rebuilt by a framer scan
 * (media-scan.ts) on first use, as the relay does on start.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MAGIC } from '@mxcast/format';
import { MediaFile } from './media-file.ts';
import { scanMediaFile } from './media-scan.ts';
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
import { RelayDatabase } from './relay-database.ts';

interface OpenMedia {
  file: MediaFile;
  offsets: number[];
  /** End of the last stored block (0 before the first: not even the magic is written). */
  end: number;
  tails: Set<(b: StoredBlock) => void>;
}

export class EmbeddedMediaStorage implements MediaStorage {
  readonly kind = 'embedded' as const;
  private readonly db: RelayDatabase;
  private readonly mediaDir: string;
  private readonly open = new Map<string, OpenMedia>();

  constructor(
    private readonly dataDir: string,
    private readonly maxBlockLength: number,
  ) {
    this.db = new RelayDatabase(dataDir);
    this.mediaDir = join(dataDir, 'media');
    mkdirSync(this.mediaDir, { recursive: true });
  }

  insertMedia(row: MediaRow): Promise<void> {
    if (this.db.getMedia(row.media_id))
      return Promise.reject(new StorageError('conflict', `media ${row.media_id} exists`));
    this.db.insertMedia(
      row.media_id,
      row.owner,
      row.created_at,
      row.unused_expires_at,
      row.geometry,
    );
    const { media_id: _id, owner: _o, created_at: _c, ...rest } = row;
    this.db.updateMedia(row.media_id, rest);
    return Promise.resolve();
  }

  getMedia(id: string): Promise<MediaRow | undefined> {
    return Promise.resolve(this.db.getMedia(id));
  }

  updateMedia(id: string, expect: MediaState, fields: MediaUpdate): Promise<MediaRow> {
    // Synchronous read-check-write in one event-loop turn: nothing else runs in between, so this
    // is a compare-and-set in one process (the only writer of an embedded data dir, data-dir-lock.ts).
    const row = this.db.getMedia(id);
    if (!row) return Promise.reject(new StorageError('not_found', `no media ${id}`));
    if (row.state !== expect)
      return Promise.reject(
        new StorageError('conflict', `media ${id} is ${row.state}, not ${expect}`, 'STATE_CHANGED'),
      );
    this.db.updateMedia(id, fields);
    return Promise.resolve({ ...row, ...fields });
  }

  async deleteMedia(id: string): Promise<void> {
    const m = this.open.get(id);
    this.open.delete(id);
    await m?.file.close();
    this.db.deleteMedia(id);
    rmSync(this.path(id), { force: true });
  }

  async appendBlock(
    id: string,
    index: number,
    offset: number,
    bytes: Uint8Array,
  ): Promise<AppendOutcome> {
    const m = this.media(id);
    if (index < m.offsets.length) {
      const stored = await this.readBlock(id, index);
      if (stored && stored.offset === offset && Buffer.from(stored.bytes).equals(bytes))
        return 'duplicate';
      throw conflict(id, index, `block ${index} is stored with other bytes`);
    }
    if (index > m.offsets.length)
      throw conflict(id, index, `next block is ${m.offsets.length}, not ${index}`);
    if (offset !== Math.max(m.end, MAGIC.length))
      throw conflict(id, index, `block ${index} at ${offset}, stored ${m.end}`);
    if (m.end === 0) m.file.append(MAGIC);
    m.file.append(bytes);
    m.offsets.push(offset);
    m.end = offset + bytes.length;
    const block = { index, offset, bytes };
    for (const t of m.tails) t(block);
    return 'stored';
  }

  blockOffsets(id: string): Promise<number[]> {
    return Promise.resolve([...this.media(id).offsets]);
  }

  async readBlock(id: string, index: number): Promise<StoredBlock | undefined> {
    const m = this.media(id);
    const offset = m.offsets[index];
    if (offset === undefined) return undefined;
    const end = m.offsets[index + 1] ?? m.end;
    const bytes = await m.file.readAt(offset, end - offset);
    return { index, offset, bytes: new Uint8Array(bytes) };
  }

  async tail(
    id: string,
    fromIndex: number,
    onBlock: (block: StoredBlock) => void,
  ): Promise<BlockTail> {
    const m = this.media(id);
    // Catch up to the blocks stored now, then follow: appends are synchronous after the last
    // await here, so none falls between the catch-up and the subscription.
    let next = fromIndex;
    while (next < m.offsets.length) {
      const b = await this.readBlock(id, next);
      if (b) onBlock(b);
      next++;
    }
    const listener = (b: StoredBlock): void => {
      if (b.index >= next) onBlock(b);
    };
    m.tails.add(listener);
    return {
      stop: () => {
        m.tails.delete(listener);
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
    for (const m of this.open.values()) await m.file.close();
    this.open.clear();
    this.db.close();
  }

  private path(id: string): string {
    return join(this.mediaDir, `${id}.mxc`);
  }

  private media(id: string): OpenMedia {
    let m = this.open.get(id);
    if (m) return m;
    if (!this.db.getMedia(id)) throw new StorageError('not_found', `no media ${id}`);
    const scan = scanMediaFile(this.path(id), this.maxBlockLength);
    const offsets: number[] = [];
    for (let i = 0; i < scan.offsets.length; i++) offsets.push(scan.offsets.at(i) as number);
    const file = new MediaFile(this.path(id));
    if (file.size !== scan.validLength) file.truncate(scan.validLength);
    m = { file, offsets, end: scan.validLength, tails: new Set() };
    this.open.set(id, m);
    return m;
  }
}

function conflict(id: string, index: number, why: string): StorageError {
  return new StorageError('conflict', `media ${id} block ${index}: ${why}`, 'BLOCK_CONFLICT');
}
