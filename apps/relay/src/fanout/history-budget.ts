/**
 * The relay-wide memory budget of history readers (docs/operations.md "Listeners and memory"):
 * bytes read from media files for late joiners (WebSocket `from=<seq>`) and HTTP downloads that
 * their sockets have not taken yet. A reader reserves a batch before it reads it and gives it
 * back once its socket has taken it; when the budget is used up, readers wait here, in arrival
 * order, instead of reading the file, so N stalled readers cost at most the budget, never
 * N × a batch. The live path never reserves anything: a live block is one buffer shared by all
 * listeners (shared-block.ts), bounded per listener by `listenerBacklogBytes`.
 *
 * Readers whose last batch their socket took ("proven") are let in before readers that have not
 * had one taken yet, and when the budget runs short a grant shrinks towards the reader's minimum
 * (one block) by the number waiting: a reader that stopped reading holds its batch until it is
 * cut, so when many of them use up the budget, the queue still moves (a released batch lets in
 * many small reads rather than one large one) and readers that do read keep going between cuts.
 *
 * Besides memory, the budget bounds the event loop's share of history: all grants together come
 * at most at `bytesPerSecond` (limits.historyBytesPerSecond, a token bucket with 8 ms of burst:
 * a few batches at most, so live blocks never queue behind a long run of history reads).
 * A socket that never reads still takes bytes into the kernel's buffers before it stalls
 * (loopback: up to net.ipv4.tcp_wmem's 4 MiB; ~0.3 MB under the relay's per-socket cap,
 * limits.socketUnsentBytes), so without a rate a wave of such readers made the
 * relay read and write those megabytes each in one burst, while live listeners waited for the loop
 * (docs/operations.md "Listeners and memory"). With it, history costs the loop a bounded share
 * whatever the number of readers, and the queue keeps it fair among them.
 *
 * Readers proven to be reading leave the rate (`reading`, set by the pacer: a reader whose socket
 * took more than the kernel's buffers can hold, so its peer has read; history-pacer.ts): the rate
 * is there to spread what each never-reading socket takes before it stalls, and a reader past
 * that is paced by its own socket, one batch at a time. Such readers go first and are bounded by
 * the budget's memory only, so an honest history reader does not wait behind a wave of stalled
 * ones once it is past that.
 *
 * The rate's timer wakes when the debt is paid and a few batches' credit is back (REFILL_SHARE of
 * the burst), not as soon as the debt is paid: waking for each batch (2 ms of burst) made the
 * rated path cost ~45 % more relay CPU than no rate; a larger burst costs less CPU but more
 * event-loop delay at once (docs/operations.md "Listeners and memory" has the figures).
 */

/** A place in the budget's queue; `cancel` gives up waiting (the reader went away). */
export interface Reservation {
  /** Resolves to the bytes reserved (between the asked min and max), or 0 if cancelled first. */
  readonly granted: Promise<number>;
  cancel(): void;
}

interface Waiter {
  min: number;
  max: number;
  resolve(granted: number): void;
}

/** The rate's burst: this much of a second's bytes may be granted at once. */
const BURST_SECONDS = 0.008;
/** The rate's timer waits for this share of the burst: one wake grants several batches. */
const REFILL_SHARE = 0.5;

export class HistoryBudget {
  private used = 0;
  /**
   * Waiting readers proven to be reading (not rated), then those whose last batch was taken, then
   * those that have had none taken yet.
   */
  private readonly reading: Waiter[] = [];
  private readonly proven: Waiter[] = [];
  private readonly fresh: Waiter[] = [];
  /** Bytes the rate allows now; may go below 0 (a grant larger than what was left): then wait. */
  private credit: number;
  private refilledAt = performance.now();
  private timer: NodeJS.Timeout | null = null;

  /**
   * `limit`: bytes all history readers together may hold (limits.historyBudgetBytes);
   * `bytesPerSecond`: how fast they may read all together (limits.historyBytesPerSecond; 0 or
   * Infinity: no rate).
   */
  constructor(
    readonly limit: number,
    readonly bytesPerSecond = Infinity,
  ) {
    if (!(this.bytesPerSecond > 0)) this.bytesPerSecond = Infinity;
    this.credit = this.burst;
  }

  private get burst(): number {
    return this.bytesPerSecond * BURST_SECONDS;
  }

  /** Adds what the rate allowed since the last refill; true when a grant may go now. */
  private refill(): boolean {
    if (this.bytesPerSecond === Infinity) return true;
    const now = performance.now();
    this.credit = Math.min(
      this.burst,
      this.credit + ((now - this.refilledAt) / 1000) * this.bytesPerSecond,
    );
    this.refilledAt = now;
    return this.credit > 0;
  }

  /** Spends `n` of the rate's credit (into debt: the next grant waits until it is paid). */
  private spend(n: number): void {
    if (this.bytesPerSecond !== Infinity) this.credit -= n;
  }

  /** Grants again once the rate has paid the debt (one timer for the whole queue). */
  private retryLater(): void {
    if (this.timer || this.waiting === 0) return;
    const ms = Math.max(
      1,
      ((this.burst * REFILL_SHARE - this.credit) / this.bytesPerSecond) * 1000,
    );
    this.timer = setTimeout(() => {
      this.timer = null;
      this.grant();
    }, ms);
    // A relay shutting down must not wait for history readers' turn.
    this.timer.unref();
  }

  /** Bytes reserved now. */
  get inUse(): number {
    return this.used;
  }

  /** Readers waiting for room. */
  get waiting(): number {
    return this.reading.length + this.proven.length + this.fresh.length;
  }

  /**
   * Reserves between `min` and `max` bytes (`max` when there is room; less, but at least `min`, when
   * the budget runs short: see grantFor); `proven`: the reader's last batch was taken by its socket.
   * First come, first served within each class, proven first: a reader never overtakes one of its
   * class that waits longer, so a stream of small reads cannot starve a large one. When nothing is
   * reserved, `max` is granted (even past the limit, or with a limit of 0): the budget bounds how
   * much is held at once, it must never stop history altogether. `reading`: the reader is proven
   * to be reading (see above): it goes before both classes and is not rated.
   */
  reserve(min: number, max = min, proven = false, reading = false): Reservation {
    const ahead = reading
      ? this.reading.length
      : proven
        ? this.reading.length + this.proven.length
        : this.waiting;
    const now = ahead === 0 && (reading || this.refill()) ? this.grantFor(min, max, 0) : 0;
    if (now > 0) {
      this.used += now;
      if (!reading) this.spend(now);
      return { granted: Promise.resolve(now), cancel: () => {} };
    }
    let waiter!: Waiter;
    const granted = new Promise<number>((resolve) => (waiter = { min, max, resolve }));
    const queue = reading ? this.reading : proven ? this.proven : this.fresh;
    queue.push(waiter);
    // The queue decides now (a grant, the rate's timer, or a wait for a release): a second
    // refill() here could find credit just back above 0 after the first found none, and then
    // this waiter waited with no timer and nothing reserved to release — forever.
    this.grant();
    return {
      granted,
      cancel: () => {
        const i = queue.indexOf(waiter);
        if (i < 0) return;
        queue.splice(i, 1);
        waiter.resolve(0);
        // The head may have changed: whoever is now first may fit.
        this.grant();
      },
    };
  }

  /** Gives back `bytes` reserved before, and lets waiting readers in. */
  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
    this.grant();
  }

  /**
   * What a reader may have now (0: nothing yet): `max` when nothing is reserved or it fits, else
   * an equal share of what is free among it and the `behind` readers waiting after it, but never
   * less than `min` (a whole block) — and nothing if not even `min` fits.
   */
  private grantFor(min: number, max: number, behind: number): number {
    if (this.used === 0) return max;
    const free = this.limit - this.used;
    if (free < min) return 0;
    return Math.min(max, Math.max(min, Math.floor(free / (1 + behind))));
  }

  private grant(): void {
    for (;;) {
      const reading = this.reading.length > 0;
      const queue = reading ? this.reading : this.proven.length > 0 ? this.proven : this.fresh;
      const head = queue[0];
      if (!head) return;
      if (!reading && !this.refill()) return this.retryLater();
      const n = this.grantFor(head.min, head.max, this.waiting - 1);
      if (n === 0) return;
      queue.shift();
      this.used += n;
      if (!reading) this.spend(n);
      head.resolve(n);
    }
  }
}
