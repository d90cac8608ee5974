/**
 * History reads shared between readers (docs/operations.md "Listeners and memory",
 * limits.historyCacheBytes): readers that ask one media for the same bytes — many listeners
 * replaying a broadcast from its start, or a crowd of never-reading sockets — get one file read
 * and one buffer between them instead of one each. A read asked again while the first is under
 * way waits for that one; a finished read stays, least recently used first out, while the cache
 * holds at most `maxBytes`.
 * Why: every history read allocated a fresh buffer, and a crowd of readers of one media
 * allocated them at the history rate (64 MiB/s); in the fan-out bench's hostile row at N = 1000
 * that made about ten major garbage collections of 6-10 ms each in the first seconds of the hold
 * (bench/fanout/gc-probe.mjs) against one in the clean row, each holding up one live block for
 * every listener. A read can be shared because stored bytes never change: the media file is
 * append-only, and callers read only within the whole blocks already stored (MediaRecord
 * byteLength); the recovery cut (media-scan.ts) runs before any reader exists.
 * Keys are exact (position, length): callers read in steps of limits.historyReadBytes from where
 * they started, so readers that start at one place share every read; others simply miss.
 */

export interface ReadCacheStats {
  hits: number;
  misses: number;
  /** Bytes held now. */
  bytes: number;
}

interface Entry {
  owner: object;
  bytes: Buffer;
}

export class ReadCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Buffer>>();
  private readonly ownerIds = new WeakMap<object, number>();
  private nextOwnerId = 1;
  private held = 0;
  hits = 0;
  misses = 0;

  /** `maxBytes` 0: nothing is kept (reads under way are still shared). */
  constructor(private readonly maxBytes: number) {}

  /**
   * The bytes `load` reads at (`position`, `length`) of `owner`'s file, shared with every other
   * reader of the same bytes. `load`'s result is never changed by a reader (callers only slice
   * it); a short or failed read is not kept.
   */
  read(
    owner: object,
    position: number,
    length: number,
    load: () => Promise<Buffer>,
  ): Promise<Buffer> {
    const key = `${this.ownerId(owner)}:${position}:${length}`;
    const hit = this.entries.get(key);
    if (hit) {
      this.hits++;
      // Most recently used goes to the end of the Map's order.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return Promise.resolve(hit.bytes);
    }
    const pending = this.inflight.get(key);
    if (pending) {
      this.hits++;
      return pending;
    }
    this.misses++;
    const p = load().then(
      (bytes) => {
        this.inflight.delete(key);
        if (bytes.length === length) this.keep(key, owner, bytes);
        return bytes;
      },
      (err: unknown) => {
        this.inflight.delete(key);
        throw err;
      },
    );
    this.inflight.set(key, p);
    return p;
  }

  /** Forgets `owner`'s reads (its file was closed or deleted). */
  drop(owner: object): void {
    const id = this.ownerIds.get(owner);
    if (id === undefined) return;
    for (const [key, e] of this.entries) {
      if (e.owner !== owner) continue;
      this.entries.delete(key);
      this.held -= e.bytes.length;
    }
    this.ownerIds.delete(owner);
  }

  stats(): ReadCacheStats {
    return { hits: this.hits, misses: this.misses, bytes: this.held };
  }

  private keep(key: string, owner: object, bytes: Buffer): void {
    // Owner dropped while its read was under way: its file is gone, keep nothing.
    if (!this.ownerIds.has(owner) || bytes.length > this.maxBytes) return;
    this.entries.set(key, { owner, bytes });
    this.held += bytes.length;
    for (const [k, e] of this.entries) {
      if (this.held <= this.maxBytes) break;
      this.entries.delete(k);
      this.held -= e.bytes.length;
    }
  }

  private ownerId(owner: object): number {
    let id = this.ownerIds.get(owner);
    if (id === undefined) {
      id = this.nextOwnerId++;
      this.ownerIds.set(owner, id);
    }
    return id;
  }
}
