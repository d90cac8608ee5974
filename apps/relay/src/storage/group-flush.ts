/**
 * The group flush (docs/operations.md "Durability and crash behaviour"): every flushIntervalMs
 * the media appended to since the last flush get one fdatasync each, off the event loop, then
 * their row's byte_length and block_count. Only those media are visited — a set kept where bytes
 * are appended — so a relay that knows many media but receives few bytes spends nothing on it.
 */
import type { MediaRecord } from './media-record.ts';
import type { RelayDatabase } from './relay-database.ts';

export class GroupFlush {
  /** Records with bytes not yet flushed (file) or not yet in their row (dbDirty). */
  private readonly dirty = new Set<MediaRecord>();

  constructor(
    private readonly db: RelayDatabase,
    /** Whether `rec` is still the store's record for its id (not forgotten or replaced). */
    private readonly isCurrent: (rec: MediaRecord) => boolean,
  ) {}

  /** Bytes were appended to `rec` (its dbDirty set). */
  add(rec: MediaRecord): void {
    this.dirty.add(rec);
  }

  has(rec: MediaRecord): boolean {
    return this.dirty.has(rec);
  }

  get size(): number {
    return this.dirty.size;
  }

  async flush(): Promise<void> {
    if (this.dirty.size === 0) return;
    await Promise.all(
      [...this.dirty].map(async (rec) => {
        await rec.file?.flush();
        const current = this.isCurrent(rec);
        if (rec.dbDirty && current) {
          rec.dbDirty = false;
          this.db.updateMedia(rec.id, { byte_length: rec.byteLength, block_count: rec.blockCount });
        }
        // Appended to again while this flush waited: stays for the next one.
        if (!current || (!rec.dbDirty && !rec.file?.isDirty)) this.dirty.delete(rec);
      }),
    );
  }

  /** Bytes of `owner`'s media appended since their rows last got byte_length. */
  unflushedBytes(owner: string): number {
    let n = 0;
    for (const rec of this.dirty) {
      if (rec.owner !== owner || !rec.dbDirty || !this.isCurrent(rec)) continue;
      n += rec.byteLength - (this.db.getMedia(rec.id)?.byte_length ?? 0);
    }
    return n;
  }

  clear(): void {
    this.dirty.clear();
  }
}
