/**
 * The relay-wide memory budget of history readers (docs/operations.md "Listeners and memory"):
 * bytes read from media files for late joiners (WebSocket `from=<seq>`) and HTTP downloads that
 * their sockets have not taken yet. A reader reserves a batch before it reads it and gives it
 * back once its socket has taken it; when the budget is used up, readers wait here, in arrival
 * order, instead of reading the file, so N stalled readers cost at most the budget, never
 * N × a batch. The live path never reserves anything: a live block is one buffer shared by all
 * listeners (shared-block.ts), bounded per listener by `listenerBacklogBytes`.
 */

/** A place in the budget's queue; `cancel` gives up waiting (the reader went away). */
export interface Reservation {
  /** Resolves true once the bytes are reserved, false if cancelled first. */
  readonly granted: Promise<boolean>;
  cancel(): void;
}

interface Waiter {
  bytes: number;
  resolve(granted: boolean): void;
}

export class HistoryBudget {
  private used = 0;
  private readonly queue: Waiter[] = [];

  /** `limit`: bytes all history readers together may hold (limits.historyBudgetBytes). */
  constructor(readonly limit: number) {}

  /** Bytes reserved now. */
  get inUse(): number {
    return this.used;
  }

  /** Readers waiting for room. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Reserves `bytes`. First come, first served: a reader never overtakes one that waits longer,
   * so a stream of small reads cannot starve a large one. When nothing is reserved, any request
   * is granted (even one larger than the limit, or with a limit of 0): the budget bounds how
   * much is held at once, it must never stop history altogether.
   */
  reserve(bytes: number): Reservation {
    if (this.queue.length === 0 && this.fits(bytes)) {
      this.used += bytes;
      return { granted: Promise.resolve(true), cancel: () => {} };
    }
    let waiter!: Waiter;
    const granted = new Promise<boolean>((resolve) => (waiter = { bytes, resolve }));
    this.queue.push(waiter);
    return {
      granted,
      cancel: () => {
        const i = this.queue.indexOf(waiter);
        if (i < 0) return;
        this.queue.splice(i, 1);
        waiter.resolve(false);
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

  private fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.limit;
  }

  private grant(): void {
    let head = this.queue[0];
    while (head && this.fits(head.bytes)) {
      this.queue.shift();
      this.used += head.bytes;
      head.resolve(true);
      head = this.queue[0];
    }
  }
}
