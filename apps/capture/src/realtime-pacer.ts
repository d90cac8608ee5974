/**
 * Paces a faster-than-real-time source to the wall clock (`--realtime`): after each chunk it
 * sleeps until the wall clock has caught up with the audio produced, so blocks leave at the
 * rate a live broadcast would produce them. Drift-free: it measures from the start, not per chunk.
 */
export class RealtimePacer {
  private readonly startedAt = performance.now();
  private samples = 0;

  constructor(
    private readonly sampleRate = 48000,
    private readonly signal?: AbortSignal,
  ) {}

  /** Accounts `samples` (per channel) and waits until they are due. */
  async advance(samples: number): Promise<void> {
    this.samples += samples;
    const dueMs = (this.samples / this.sampleRate) * 1000;
    const waitMs = dueMs - (performance.now() - this.startedAt);
    if (waitMs <= 1 || this.signal?.aborted) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, waitMs);
      const signal = this.signal;
      signal?.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(t);
        signal?.removeEventListener('abort', done);
        resolve();
      }
    });
  }
}
