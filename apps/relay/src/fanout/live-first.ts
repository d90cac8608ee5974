/**
 * Live before history in the event loop (docs/operations.md "Listeners and memory"): while any
 * media's live fan-out is under way (media-hub.ts, from a block's publish until every listener
 * has it, possibly over several event-loop turns of `fanoutSliceSize` listeners), history readers
 * wait here before their next file read and before writing what they read. Without this, history
 * work (a file read's callback and its socket writes: ~0.1 ms per 64 KiB batch, the kernel's copy
 * included) could run in the poll phases between a fan-out's slices and delay the listeners of
 * the later slices. How much it did is small: in the bench's hostile row at N = 1000
 * (`low-latency`, 50 never-reading history readers; bench/fanout/hostile-timeline-probe.mjs)
 * 392 of 7650 history steps came mid-fan-out, some 40 ms of work in a 30 s hold, and the honest
 * listeners' p99 did not measurably change on a loaded machine. The gate is kept as a bound, not
 * as a measured gain: history is done in the gaps between live blocks, whatever its volume.
 *
 * History never starves: a reader waits at most MAX_WAIT_MS (a relay whose fan-out never stops,
 * one past its capacity, still serves history, between slices as before). The gate is
 * process-wide, like the event loop it shares out: every relay core in the process (tests run
 * several) defers to every live fan-out.
 */

/** The longest a history reader waits for live fan-outs to finish, ms. */
export const MAX_WAIT_MS = 40;

export class LiveFirstGate {
  /** Fan-outs under way (each media hub counts once from publish until its queue is empty). */
  private busy = 0;
  private waiters: (() => void)[] = [];
  private flushing = false;
  private timer: NodeJS.Timeout | null = null;
  /** Lets every waiter go; `forced`: MAX_WAIT_MS ran out (else only when no fan-out is under way). */
  private readonly flush = (forced = false): void => {
    this.flushing = false;
    // A block published between end() and this turn: wait for its fan-out too (bounded).
    if (!forced && this.busy > 0) return this.bound();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const go = this.waiters;
    this.waiters = [];
    for (const resolve of go) resolve();
  };

  /** True while some live fan-out is under way. */
  get live(): boolean {
    return this.busy > 0;
  }

  /** History readers waiting for their turn. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** A hub started fanning out (its queue went from empty to one item). */
  begin(): void {
    this.busy++;
  }

  /** That hub's queue is empty again: waiting history goes, after the current callback. */
  end(): void {
    this.busy = Math.max(0, this.busy - 1);
    if (this.busy === 0 && this.waiters.length > 0) this.schedule();
  }

  /**
   * Resolves when no live fan-out is under way (at once, as a resolved promise, when none is), or
   * after MAX_WAIT_MS at the latest.
   */
  turn(): Promise<void> {
    if (this.busy === 0 && this.waiters.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      if (this.busy === 0) this.schedule();
      else this.bound();
    });
  }

  /** Starts the MAX_WAIT_MS timer of the waiters, unless it runs already. */
  private bound(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(true), MAX_WAIT_MS);
    // A stopping relay must not wait for history's turn.
    this.timer.unref();
  }

  /**
   * setImmediate rather than at once: `end` runs inside the hub's last slice, and history's writes
   * should not lengthen that callback (another hub's fan-out may be queued behind it).
   */
  private schedule(): void {
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => this.flush());
  }
}

/** The process's one gate (one event loop). */
export const liveFirst = new LiveFirstGate();
