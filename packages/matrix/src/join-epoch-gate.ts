/**
 * Under the `joined` history policy (docs/matrix.md "Key epochs"), a re-share goes to every
 * current member and carries the newest epoch sent. That is only safe when the newest epoch was
 * fixed after the latest join the broadcaster has seen: otherwise the newcomer would get an epoch
 * that started before they joined, and with it the audio of the past.
 *
 * The gate counts joins and, for each epoch, how many joins had been seen when the capture fixed
 * it (the announcer's `announce` call). A re-share waits until the newest sent epoch covers
 * every join seen so far — whatever the reason the epoch was fixed for (the schedule, a leave, a
 * request: any epoch fixed after the join is one the newcomer may read). It never falls back to
 * an older epoch: when the join's epoch does not come in time, the re-share is refused.
 *
 * Counting, not matching reasons: a reason leaves the announcer's queue when `announce` is
 * called, long before the epoch event is in the room; a re-share in that window once saw no
 * pending join and handed out the previous epoch.
 */
export class JoinEpochGate {
  /** Joins seen (the membership watch's `joined`). */
  #joins = 0;
  /** Joins seen before the newest sent epoch was fixed. */
  #covered = 0;
  /** Waiting re-shares: `check` resolves one once the gate is open, `close` refuses it. */
  #waiters = new Set<{ check: () => void; close: () => void }>();

  /** A member joined: the next re-share must wait for an epoch fixed after this moment. */
  joined(): void {
    this.#joins++;
  }

  /** An epoch is fixed now (announce): the joins it covers, to hand to `sent` once it is out. */
  fixed(): number {
    return this.#joins;
  }

  /** The epoch fixed when `covers` joins were seen is in the room. */
  sent(covers: number): void {
    if (covers <= this.#covered) return;
    this.#covered = covers;
    for (const w of [...this.#waiters]) w.check();
  }

  /** True when the newest sent epoch was fixed after every join seen so far. */
  get open(): boolean {
    return this.#covered >= this.#joins;
  }

  /**
   * Resolves once the gate is open; rejects after `waitMs` (the join's epoch never came: the
   * rekey failed, or the capture stopped), so the caller refuses the re-share.
   */
  wait(waitMs: number): Promise<void> {
    if (this.open) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        check: (): void => {
          if (!this.open) return;
          end();
          resolve();
        },
        close: (): void => {
          end();
          reject(new Error('the broadcast stopped before the join’s epoch: key not re-shared'));
        },
      };
      const end = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      const timer = setTimeout(() => {
        end();
        reject(new Error(`no epoch for the join after ${waitMs} ms: key not re-shared`));
      }, waitMs);
      this.#waiters.add(waiter);
    });
  }

  /** Refuses every re-share still waiting (the announcer stopped), so no timer outlives it. */
  close(): void {
    for (const w of [...this.#waiters]) w.close();
  }
}
