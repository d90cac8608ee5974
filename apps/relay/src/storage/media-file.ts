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

export class MediaFile {
  private fd: number | null;
  private dirty = false;
  private flushing: Promise<void> | null = null;

  constructor(readonly path: string) {
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

  /** Reads up to `length` bytes at `position` into a new buffer (shorter at end of file). */
  readAt(position: number, length: number): Promise<Buffer> {
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
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private openFd(): number {
    if (this.fd === null) throw new Error(`media file closed: ${this.path}`);
    return this.fd;
  }
}
