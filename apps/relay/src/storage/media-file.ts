/**
 * One media's bytes: an append-only file under `<data>/media/`. Writes go to the page cache
 * synchronously (so a history reader sees them at once) and reach the disk in group flushes
 * (fdatasync off the event loop, at most every `flushIntervalMs`): a crash loses at most the
 * last interval, which recovery then cuts back to a whole block (media-scan.ts, on start).
 */
import {
  closeSync,
  fdatasync,
  fstatSync,
  ftruncateSync,
  openSync,
  read,
  readSync,
  writeSync,
} from 'node:fs';
import type { ReadCache } from './read-cache.ts';

export class MediaFile {
  private fd: number | null;
  private dirty = false;
  private flushing: Promise<void> | null = null;

  /** `cache`: history reads shared between readers of the same bytes (read-cache.ts). */
  constructor(
    readonly path: string,
    private readonly cache: ReadCache | null = null,
  ) {
    // 'a+': create if missing, writes always land at the end (append-only by construction).
    // 0600: only the relay's user reads the ciphertext (data-dir-mode.ts).
    this.fd = openSync(path, 'a+', 0o600);
  }

  get size(): number {
    return fstatSync(this.openFd()).size;
  }

  append(bytes: Uint8Array): void {
    const fd = this.openFd();
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    this.dirty = true;
  }

  /** Cuts the file back to `length` bytes (recovery of a partial last block). */
  truncate(length: number): void {
    ftruncateSync(this.openFd(), length);
    this.dirty = true;
  }

  /**
   * Reads up to `length` bytes at `position` (shorter at end of file). The buffer may be shared
   * with other readers of the same bytes (read-cache.ts): slice it, never write to it. Only for
   * bytes already stored, which never change: the cache trusts that.
   */
  readAt(position: number, length: number): Promise<Buffer> {
    if (!this.cache) return this.readFresh(position, length);
    return this.cache.read(this, position, length, () => this.readFresh(position, length));
  }

  private readFresh(position: number, length: number): Promise<Buffer> {
    const fd = this.openFd();
    const buf = Buffer.allocUnsafe(length);
    return new Promise((resolve, reject) => {
      read(fd, buf, 0, length, position, (err, n) =>
        err ? reject(err) : resolve(buf.subarray(0, n)),
      );
    });
  }

  /**
   * readAt, synchronously: for the storage engine's exactly-once check of a retried block
   * (embedded-media-storage.ts), which must decide within the append's synchronous step.
   */
  readAtSync(position: number, length: number): Buffer {
    const buf = Buffer.allocUnsafe(length);
    let n = 0;
    while (n < length) {
      const got = readSync(this.openFd(), buf, n, length - n, position + n);
      if (got === 0) break;
      n += got;
    }
    return buf.subarray(0, n);
  }

  get isDirty(): boolean {
    return this.dirty;
  }

  /** fdatasync if anything was written since the last flush; concurrent calls share one flush. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (!this.dirty || this.fd === null) return Promise.resolve();
    this.dirty = false;
    const fd = this.fd;
    this.flushing = new Promise<void>((resolve) => {
      fdatasync(fd, () => {
        this.flushing = null;
        resolve();
      });
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    await this.flush();
    this.cache?.drop(this);
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private openFd(): number {
    if (this.fd === null) throw new Error(`media file closed: ${this.path}`);
    return this.fd;
  }
}
