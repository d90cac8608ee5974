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
 * one past its capacity, still serves history, between slices as before). Once that time has run
 * out the gate is overdue: large steps go STEPS_PER_TURN per event-loop turn, between the fan-out's
 * slices, until none waits — never all at once. Released together they were a burst inside one
 * of the longest fan-outs: at `voice` N = 3000 (2700 listeners, fan-outs of ~33 ms at p50, some
 * past 40 ms) one hold's forced release let 49 waiting 64 KiB steps go in one callback. Like the
 * gate itself, a bound rather than a measured gain: the honest listeners' p99 in that row's
 * stalled-only pairs did not measurably change (docs/operations.md "What the hostile rows
 * cost"). The gate is
 * process-wide, like the event loop it shares out: every relay core in the process (tests run
 * several) defers to every live fan-out.
 */

/** The longest a history reader waits for live fan-outs to finish, ms. */
export const MAX_WAIT_MS = 40;
/**
 * Large history steps (a file read or a write of what was read, of LARGE_STEP_BYTES or more) that
 * go in one event-loop turn; the rest wait for the next turn, after the loop has polled for I/O. Why:
 * a live block that arrives while history runs waits for what history does before the loop polls
 * again. Released all together, a turn's steps were a burst: on loopback a 64 KiB write to a socket
 * nobody reads costs ~0.2 ms (the hostile fan-out row's first seconds: ~0.8 s of extra relay CPU
 * for the ~215 MB its 50 never-reading readers take, hostile-timeline-probe.mjs), so the 8 ms of
 * the history rate's credit (512 KiB) could hold a block ~2 ms; one step at a time, one write.
 */
export const STEPS_PER_TURN = 1;
/**
 * Steps smaller than this go together, as soon as no fan-out is under way: they are listeners a
 * few blocks behind the live edge catching up (an HTTP listener joins at the newest block, a slow
 * one falls a little behind), cheap and many. One per turn, 1000 HTTP listeners at `low-latency`
 * (a block every 20 ms) queued more steps than the turns between two blocks, never caught up and
 * stayed on the history path: honest p99 89 ms instead of 10.5 (`pnpm bench fanout
 * --series=relay-http --n=1000 --preset=low-latency --hold=10`, idle).
 */
export const LARGE_STEP_BYTES = 16 * 1024;

export class LiveFirstGate {
  /** Fan-outs under way (each media hub counts once from publish until its queue is empty). */
  private busy = 0;
  private waiters: (() => void)[] = [];
  /** Waiters of large steps (LARGE_STEP_BYTES or more): STEPS_PER_TURN of them per turn. */
  private large: (() => void)[] = [];
  private flushing = false;
  private timer: NodeJS.Timeout | null = null;
  /** Steps let go in this event-loop turn (reset at its check phase, setImmediate). */
  private steps = 0;
  private resetting = false;
  /** MAX_WAIT_MS ran out: large steps go one turn at a time even while a fan-out goes on. */
  private overdue = false;
  /**
   * Lets every small step's waiter go and what is left of this turn's STEPS_PER_TURN large ones,
   * the next large ones in later turns; only when no fan-out is under way, or when `forced`
   * (MAX_WAIT_MS ran out) has made the gate overdue until no large step waits.
   */
  private readonly flush = (forced = false): void => {
    this.flushing = false;
    if (forced) this.overdue = true;
    // A block published between end() and this turn: wait for its fan-out too (bounded).
    if (!this.overdue && this.busy > 0) return this.bound();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const large = this.large.splice(0, Math.max(0, STEPS_PER_TURN - this.steps));
    this.step(large.length);
    const go = [...this.waiters.splice(0), ...large];
    for (const resolve of go) resolve();
    if (this.large.length > 0) this.schedule();
    else this.overdue = false;
  };

  /** True while some live fan-out is under way. */
  get live(): boolean {
    return this.busy > 0;
  }

  /** History readers waiting for their turn. */
  get waiting(): number {
    return this.waiters.length + this.large.length;
  }

  /** A hub started fanning out (its queue went from empty to one item). */
  begin(): void {
    this.busy++;
  }

  /** That hub's queue is empty again: waiting history goes, after the current callback. */
  end(): void {
    this.busy = Math.max(0, this.busy - 1);
    if (this.busy === 0 && this.waiting > 0) this.schedule();
  }

  /**
   * Resolves when no live fan-out is under way and, for a step of LARGE_STEP_BYTES or more, this
   * event-loop turn has room for one more (at once, as a resolved promise, when that holds); or,
   * once MAX_WAIT_MS has run out, in the overdue gate's order, one large step per turn.
   * `bytes`: what the step reads or writes.
   */
  turn(bytes: number): Promise<void> {
    const isLarge = bytes >= LARGE_STEP_BYTES;
    if (this.busy === 0 && this.waiting === 0 && (!isLarge || this.steps < STEPS_PER_TURN)) {
      if (isLarge) this.step(1);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      (isLarge ? this.large : this.waiters).push(resolve);
      if (this.busy === 0) this.schedule();
      else this.bound();
    });
  }

  /** Counts `n` steps let go in this turn; the count starts again at the turn's check phase. */
  private step(n: number): void {
    this.steps += n;
    if (this.resetting) return;
    this.resetting = true;
    setImmediate(() => {
      this.steps = 0;
      this.resetting = false;
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
