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

export class HistoryBudget {
  private used = 0;
  /** Waiting readers whose last batch was taken, then those that have had none taken yet. */
  private readonly proven: Waiter[] = [];
  private readonly fresh: Waiter[] = [];

  /** `limit`: bytes all history readers together may hold (limits.historyBudgetBytes). */
  constructor(readonly limit: number) {}

  /** Bytes reserved now. */
  get inUse(): number {
    return this.used;
  }

  /** Readers waiting for room. */
  get waiting(): number {
    return this.proven.length + this.fresh.length;
  }

  /**
   * Reserves between `min` and `max` bytes (`max` when there is room; less, but at least `min`, when
   * the budget runs short: see grantFor); `proven`: the reader's last batch was taken by its socket.
   * First come, first served within each class, proven first: a reader never overtakes one of its
   * class that waits longer, so a stream of small reads cannot starve a large one. When nothing is
   * reserved, `max` is granted (even past the limit, or with a limit of 0): the budget bounds how
   * much is held at once, it must never stop history altogether.
   */
  reserve(min: number, max = min, proven = false): Reservation {
    const ahead = proven ? this.proven.length : this.waiting;
    const now = ahead === 0 ? this.grantFor(min, max, 0) : 0;
    if (now > 0) {
      this.used += now;
      return { granted: Promise.resolve(now), cancel: () => {} };
    }
    let waiter!: Waiter;
    const granted = new Promise<number>((resolve) => (waiter = { min, max, resolve }));
    const queue = proven ? this.proven : this.fresh;
    queue.push(waiter);
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
      const queue = this.proven.length > 0 ? this.proven : this.fresh;
      const head = queue[0];
      if (!head) return;
      const n = this.grantFor(head.min, head.max, this.waiting - 1);
      if (n === 0) return;
      queue.shift();
      this.used += n;
      head.resolve(n);
    }
  }
}
