/**
 * The portable download sink: a web ReadableStream, what the Hono core returns as the Response
 * body. Paced by the reader (history is read on its pulls); nothing is buffered ahead of it, so
 * `queued` (minus desiredSize, with sizes in bytes) is exactly what the consumer has not taken.
 */
import type { DownloadSink } from './download-pump.ts';

export class WebStreamSink implements DownloadSink {
  readonly stream: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private waiting: (() => void) | null = null;
  private gone: (() => void) | null = null;

  constructor() {
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => void (this.controller = c),
        pull: () => this.wake(),
        cancel: () => {
          this.wake();
          this.gone?.();
        },
      },
      // Nothing is buffered ahead of the reader: desiredSize is minus the bytes queued.
      { highWaterMark: 0, size: (chunk) => chunk.byteLength },
    );
  }

  write(bytes: Uint8Array): boolean {
    this.controller.enqueue(bytes);
    // Paced by the reader: history continues on its next pull.
    return false;
  }

  drained(): Promise<void> {
    return new Promise((resolve) => (this.waiting = resolve));
  }

  get queued(): number {
    return Math.max(0, -(this.controller.desiredSize ?? 0));
  }

  end(): void {
    try {
      this.controller.close();
    } catch {
      // already closed by the consumer
    }
  }

  fail(reason: Error): void {
    try {
      this.controller.error(reason);
    } catch {
      // already closed by the consumer
    }
  }

  onGone(callback: () => void): void {
    this.gone = callback;
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = null;
    w?.();
  }
}
