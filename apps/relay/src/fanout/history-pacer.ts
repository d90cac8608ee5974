/**
 * Paces one history reader (a WebSocket listener replaying from `from=<seq>`, or an HTTP download
 * reading stored bytes): it reserves each batch in the relay-wide HistoryBudget before reading it
 * from the file, holds it until the socket has taken it, and gives up on a reader that takes
 * nothing for `stallMs`. So a history reader never has more than one batch (limits.historyReadBytes)
 * queued in the relay, all of them together never more than limits.historyBudgetBytes, and a
 * reader that stopped reading is dropped after limits.listenerStallMs instead of holding its batch
 * and its socket forever (docs/operations.md "Listeners and memory"). Its reads and writes wait
 * for any live fan-out under way (live-first.ts): live listeners go first.
 */
import type { HistoryBudget, Reservation } from './history-budget.ts';
import { liveFirst } from './live-first.ts';

/** What every history reader of one relay shares. */
export interface HistoryPacing {
  budget: HistoryBudget;
  /** Bytes read from the file at a time: the per-reader bound. */
  readBytes: number;
  /** A reader whose socket takes nothing for this long is dropped, ms. */
  stallMs: number;
  /** Counts a dropped reader (the /metrics counter). */
  onStalled(): void;
  /**
   * Bytes a socket can take without its peer reading any (our send buffer at its largest plus the
   * peer's receive window): a reader whose socket took more is proven to be reading and leaves the
   * budget's rate (history-budget.ts). Infinity: never.
   */
  readingAfterBytes: number;
}

export class HistoryPacer {
  private held = 0;
  private waiting: Reservation | null = null;
  private closed = false;
  /** Whether the socket took the last batch (the budget lets such readers in first). */
  private proven = false;
  /** Bytes of the batches the socket took (to within its high-water mark). */
  private taken = 0;

  /** `pacing` null: no budget and no stall limit (only the socket's own backpressure). */
  constructor(private readonly pacing: HistoryPacing | null) {}

  /** Bytes to read at a time. */
  get readBytes(): number {
    return this.pacing?.readBytes ?? 64 * 1024;
  }

  /**
   * Reserves between `min` (the next block) and `max` bytes before reading them; resolves to the
   * bytes the reader may read now, or 0 if it was closed meanwhile.
   */
  async reserve(min: number, max = min): Promise<number> {
    if (this.closed) return 0;
    if (!this.pacing) return max;
    this.release();
    const reading = this.taken > this.pacing.readingAfterBytes;
    const r = this.pacing.budget.reserve(min, max, this.proven, reading);
    this.waiting = r;
    const granted = await r.granted;
    if (this.waiting === r) this.waiting = null;
    if (granted === 0) return 0;
    this.held = granted;
    // The file read goes after any live fan-out under way (live-first.ts).
    await liveFirst.turn(granted);
    if (this.closed) {
      this.release();
      return 0;
    }
    return granted;
  }

  /**
   * Resolves when the reader may write what it read: after any live fan-out under way
   * (live-first.ts). Without pacing (no budget: tests of the bare paths) at once.
   */
  turn(bytes: number): Promise<void> {
    return this.pacing ? liveFirst.turn(bytes) : Promise.resolve();
  }

  /** The bytes reserved are out of the relay's memory: the socket took them. */
  release(): void {
    if (this.held === 0 || !this.pacing) return;
    const n = this.held;
    this.held = 0;
    if (!this.closed) this.proven = true;
    this.taken += n;
    this.pacing.budget.release(n);
  }

  /**
   * Waits for `taken` (the socket took what was queued, or went away) for at most stallMs.
   * Resolves false when the time ran out: the reader is stalled, counted, and the caller drops it.
   */
  async progress(taken: Promise<void>): Promise<boolean> {
    if (!this.pacing) {
      await taken;
      return true;
    }
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), this.pacing?.stallMs ?? 0);
    });
    const ok = await Promise.race([taken.then(() => true as const), stalled]);
    clearTimeout(timer);
    if (!ok && !this.closed) this.pacing.onStalled();
    return ok;
  }

  /** The reader ended: gives back what it holds and leaves the budget's queue. */
  close(): void {
    this.closed = true;
    this.waiting?.cancel();
    this.waiting = null;
    this.release();
  }
}
