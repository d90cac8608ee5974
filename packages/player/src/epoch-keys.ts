/**
 * EpochKeys: where a player gets a broadcast's key epochs while it plays (docs/format.md "Key
 * epochs", docs/player.md "Key epochs"). The schedule grows as epoch events arrive (the Matrix
 * side feeds it); it can also report that this listener lost access (kicked, left, or cannot
 * decrypt the epoch event), which the player turns into NO_ACCESS rather than TAMPERED.
 * EpochKeyRing is the ordinary implementation: whoever learns an epoch calls add().
 */
import {
  generateEpoch,
  KeySchedule,
  parseEpoch,
  type EncryptedFile,
  type Epoch,
} from '@mxcast/format';

export interface EpochKeys {
  /** Every epoch known so far, by increasing startSeq, the first at 0. Only ever grows. */
  readonly epochs: readonly Epoch[];
  /** Set once this listener can no longer get keys: why, in words for the listener. */
  readonly lostAccess: string | undefined;
  /**
   * Why this listener holds no key for the epoch starting at `startSeq` (a `joined` newcomer's
   * past, docs/matrix.md "Key epochs"), or undefined for an epoch it holds. Optional: a source
   * without withheld epochs need not have it.
   */
  withheld?(startSeq: number): string | undefined;
  /**
   * Resolves on the next change (an epoch added, access lost) or when `signal` aborts; resolves
   * at once when access is already lost.
   */
  changed(signal?: AbortSignal): Promise<void>;
}

/**
 * Waits for the next change of `keys` for at most `ms`, or until `signal` aborts. The timeout is
 * a plain timer, not AbortSignal.timeout() inside AbortSignal.any(): on node 20 a timeout signal
 * that is only a source of a composite one can be garbage-collected before it fires, and the wait
 * then never ends (nodejs/node#57736; a key wait of 200 ms hung a test for its whole 60 s). The
 * timer holds its controller until it fires or is cleared.
 */
export async function keysChanged(
  keys: EpochKeys,
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), Math.max(0, Math.ceil(ms)));
  try {
    await keys.changed(signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal);
  } finally {
    clearTimeout(timer);
  }
}

export class EpochKeyRing implements EpochKeys {
  readonly #schedule: KeySchedule;
  #lost: string | undefined;
  /** startSeq → why: epochs this listener is not given, each held as a random stand-in key. */
  readonly #withheld = new Map<number, string>();
  #waiters: (() => void)[] = [];

  /** The first epoch(s): an EncryptedFile (epoch 0), or epochs starting with startSeq 0. */
  constructor(initial: EncryptedFile | readonly Epoch[]) {
    this.#schedule = Array.isArray(initial)
      ? new KeySchedule(initial)
      : KeySchedule.fromFile(initial as EncryptedFile);
  }

  get epochs(): readonly Epoch[] {
    return this.#schedule.epochs;
  }

  get lostAccess(): string | undefined {
    return this.#lost;
  }

  /**
   * A newly announced epoch. Epochs may arrive out of order (two events in one sync) or twice:
   * one already known is ignored, and one starting before the last known is refused
   * (FormatError BAD_KEY_SCHEDULE), since the schedule only grows at its end.
   */
  add(epoch: Epoch): void {
    const e = parseEpoch(epoch);
    const same = this.#schedule.epochs.find((x) => x.startSeq === e.startSeq);
    if (same && same.key.k === e.key.k && same.iv === e.iv) return;
    this.#schedule.add(e);
    this.#wake();
  }

  /**
   * The epochs from `startSeq` up to the next one added are not this listener's (a `joined`
   * newcomer's past): a random stand-in key holds their place in the schedule, so their blocks
   * fail and the player says NO_ACCESS with `reason`, and a later epoch still opens its own.
   */
  withhold(startSeq: number, reason: string): void {
    this.add(generateEpoch(startSeq));
    this.#withheld.set(startSeq, reason);
  }

  withheld(startSeq: number): string | undefined {
    return this.#withheld.get(startSeq);
  }

  /** This listener will get no further keys (kicked, left, the epoch event undecryptable). */
  loseAccess(reason: string): void {
    this.#lost ??= reason;
    this.#wake();
  }

  changed(signal?: AbortSignal): Promise<void> {
    if (this.#lost !== undefined || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal?.removeEventListener('abort', done);
        this.#waiters = this.#waiters.filter((w) => w !== done);
        resolve();
      };
      this.#waiters.push(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
