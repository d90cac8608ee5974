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
 * had one taken yet: a reader that stopped reading holds its batch until it is dropped, so when
 * many of them use up the budget, readers that do read keep going at full speed between those
 * drops instead of queueing behind every newcomer for one batch per round.
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
   * Reserves `bytes`; `proven`: the reader's last batch was taken by its socket. First come, first
   * served within each class, proven first: a reader never overtakes one of its class that waits
   * longer, so a stream of small reads cannot starve a large one. When nothing is reserved, any
   * request is granted (even one larger than the limit, or with a limit of 0): the budget bounds
   * how much is held at once, it must never stop history altogether.
   */
  reserve(bytes: number, proven = false): Reservation {
    const ahead = proven ? this.proven.length : this.waiting;
    if (ahead === 0 && this.fits(bytes)) {
      this.used += bytes;
      return { granted: Promise.resolve(true), cancel: () => {} };
    }
    let waiter!: Waiter;
    const granted = new Promise<boolean>((resolve) => (waiter = { bytes, resolve }));
    const queue = proven ? this.proven : this.fresh;
    queue.push(waiter);
    return {
      granted,
      cancel: () => {
        const i = queue.indexOf(waiter);
        if (i < 0) return;
        queue.splice(i, 1);
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
    for (;;) {
      const queue = this.proven.length > 0 ? this.proven : this.fresh;
      const head = queue[0];
      if (!head || !this.fits(head.bytes)) return;
      queue.shift();
      this.used += head.bytes;
      head.resolve(true);
    }
  }
}
