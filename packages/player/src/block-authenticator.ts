/**
 * The gate no unauthenticated byte passes (docs/format.md): checks that each block's seq follows
 * the last one (MSC4016: readers end a stream whose seq does not increase by exactly one,
 * except across a seek the reader itself made), then decrypts it with AES-256-GCM, whose tag
 * (and the seq in IV and AAD) detects bit flips, splicing from another stream or position,
 * reordering and duplication. Only the plaintext of a block that passed both leaves this file.
 *
 * With key epochs (docs/format.md "Key epochs") the cipher is a ScheduleCipher fed from an
 * EpochKeys source: each block must open under the epoch the schedule assigns to its seq, so a
 * relay cannot move a boundary. A block's epoch is final once an epoch starting after it is
 * known; a block at or past the last known boundary that fails may belong to an epoch not yet
 * announced, so only then does the player wait (bounded) for the key source: a new epoch →
 * try again; access lost → NO_ACCESS; no news → TAMPERED.
 */
import type { BlockCipher, ScheduleCipher } from '@mxcast/format';
import type { SourceBlock } from './block-source.ts';
import { keysChanged, type EpochKeys } from './epoch-keys.ts';
import { PlayerError } from './player-error.ts';

/** How long a block past the last known boundary waits for its epoch by default. */
export const DEFAULT_KEY_WAIT_MS = 10_000;

export interface EpochKeyOptions {
  /** Where epochs come from; the cipher must be a ScheduleCipher made from its epochs. */
  keys: EpochKeys;
  /** Longest wait for an unknown epoch's key (default DEFAULT_KEY_WAIT_MS). */
  keyWaitMs?: number;
}

export class BlockAuthenticator {
  readonly #cipher: BlockCipher;
  readonly #epochs: (EpochKeyOptions & { cipher: ScheduleCipher }) | undefined;
  /** Ends a key wait when the player stops. */
  readonly #stop = new AbortController();
  #expected: number | undefined;
  /** True once any block authenticated: a failure after that is tampering, before it a wrong key. */
  #anyAuthenticated = false;
  #allowedJump: number | 'any' | undefined = 'any';

  constructor(cipher: BlockCipher, epochs?: EpochKeyOptions) {
    this.#cipher = cipher;
    if (epochs) {
      if (!('schedule' in cipher)) throw new Error('epoch keys need a ScheduleCipher');
      this.#epochs = { ...epochs, cipher: cipher as ScheduleCipher };
    }
  }

  /**
   * Brings the ScheduleCipher up to every epoch the key source knows now (each new epoch's
   * cipher made once); nothing without epoch keys. Blocks do it themselves; a seek's probes,
   * which use the cipher directly, call it first.
   */
  async syncKeys(): Promise<void> {
    if (this.#epochs) await this.#syncEpochs(this.#epochs);
  }

  /** The player stopped: a block waiting for its key gives up at once. */
  stop(): void {
    this.#stop.abort();
  }

  /** Seq the next block must carry (undefined before the first block or right after a seek). */
  get expectedSeq(): number | undefined {
    return this.#expected;
  }

  /**
   * The player itself moves the read position: the next block may carry `seq` (a number), or any
   * seq (`'any'`, a live join whose edge the relay picks). Allowed once.
   */
  allowJump(seq: number | 'any'): void {
    this.#allowedJump = seq;
  }

  /**
   * The next block must carry exactly `seq`: the reader derived its position itself, from
   * something other than the relay's bytes (an HLS segment the player asked for starts at the
   * seq the stream geometry fixes for its place in the playlist, docs/web.md). Unlike
   * allowJump, the block that would simply have followed is refused too.
   */
  requireNext(seq: number): void {
    this.#expected = seq;
    this.#allowedJump = undefined;
  }

  /**
   * The relay says it skipped this (slow) listener ahead to `toSeq` (WebSocket `skipped`,
   * docs/protocol.md): a jump the player did not make, so only forward — a "skip" back to an
   * earlier seq would let a relay replay authenticated blocks. Returns whether anything was
   * skipped (false when `toSeq` is simply the next block).
   */
  allowSkip(toSeq: number): boolean {
    const expected = this.#expected;
    if (expected !== undefined && toSeq < expected) {
      throw new PlayerError(
        'TAMPERED',
        `relay announced a skip to seq ${toSeq}, behind the next block ${expected} (a replay)`,
        { fatal: true, seq: toSeq },
      );
    }
    if (expected === toSeq) return false;
    this.#allowedJump = toSeq;
    return true;
  }

  async open(block: SourceBlock): Promise<Uint8Array> {
    const jump = this.#allowedJump;
    const follows = this.#expected === undefined || block.seq === this.#expected;
    const jumpOk = jump === 'any' || jump === block.seq;
    if (!follows && !jumpOk) {
      const what =
        this.#expected !== undefined && block.seq < this.#expected
          ? 'repeated or reordered'
          : 'skipped or spliced';
      throw new PlayerError(
        'TAMPERED',
        `block seq ${block.seq} does not follow seq ${(this.#expected ?? 0) - 1} (${what})`,
        { fatal: true, seq: block.seq, ...(block.offset !== null ? { offset: block.offset } : {}) },
      );
    }
    let plaintext: Uint8Array;
    if (this.#epochs) plaintext = await this.#decryptWithEpochs(block, this.#epochs);
    else {
      try {
        // The synchronous node:crypto form saves a promise per block where the backend has it.
        plaintext = this.#cipher.sync
          ? this.#cipher.sync.decrypt(block.seq, block.ciphertext, block.byteOrder)
          : await this.#cipher.decrypt(block.seq, block.ciphertext, block.byteOrder);
      } catch (err) {
        throw this.#failed(block, err);
      }
    }
    this.#anyAuthenticated = true;
    this.#allowedJump = undefined;
    this.#expected = block.seq + 1;
    return plaintext;
  }

  async #decryptWithEpochs(
    block: SourceBlock,
    ep: EpochKeyOptions & { cipher: ScheduleCipher },
  ): Promise<Uint8Array> {
    let waitedSince: number | undefined;
    for (;;) {
      await this.#syncEpochs(ep);
      try {
        return this.#cipher.sync
          ? this.#cipher.sync.decrypt(block.seq, block.ciphertext, block.byteOrder)
          : await this.#cipher.decrypt(block.seq, block.ciphertext, block.byteOrder);
      } catch (err) {
        const withheld = ep.keys.withheld?.(ep.cipher.schedule.epochFor(block.seq).startSeq);
        if (withheld !== undefined) throw this.#noAccess(block, withheld, err, 'withheld');
        if (this.#epochIsFinal(ep, block.seq)) throw this.#failed(block, err);
        if (ep.keys.lostAccess !== undefined) throw this.#noAccess(block, ep.keys.lostAccess, err);
        waitedSince ??= performance.now();
        const left = (ep.keyWaitMs ?? DEFAULT_KEY_WAIT_MS) - (performance.now() - waitedSince);
        const known = ep.keys.epochs.length;
        if (left > 0) await this.#waitForKeys(ep.keys, left);
        if (ep.keys.lostAccess !== undefined) throw this.#noAccess(block, ep.keys.lostAccess, err);
        if (ep.keys.epochs.length === known) {
          throw this.#failed(
            block,
            err,
            ` (no key epoch for it after ${Math.round(performance.now() - waitedSince)} ms)`,
          );
        }
      }
    }
  }

  /** A later epoch is known, so the one the schedule gives `seq` can no longer change. */
  #epochIsFinal(ep: { cipher: ScheduleCipher }, seq: number): boolean {
    const schedule = ep.cipher.schedule;
    return schedule.indexFor(seq) < schedule.epochs.length - 1;
  }

  /** Brings the cipher's schedule up to the key source's (each new epoch's cipher made once). */
  async #syncEpochs(ep: EpochKeyOptions & { cipher: ScheduleCipher }): Promise<void> {
    const known = ep.cipher.schedule.epochs.length;
    if (ep.keys.epochs.length === known) return;
    for (const epoch of ep.keys.epochs.slice(known)) await ep.cipher.add(epoch);
  }

  async #waitForKeys(keys: EpochKeys, ms: number): Promise<void> {
    await keysChanged(keys, ms, this.#stop.signal);
  }

  #failed(block: SourceBlock, err: unknown, why = ''): PlayerError {
    const details = { seq: block.seq, ...(block.offset !== null ? { offset: block.offset } : {}) };
    if (!this.#anyAuthenticated) {
      return new PlayerError(
        'WRONG_KEY',
        `block ${block.seq} failed authentication before any block passed: wrong key or IV (${(err as Error).message})${why}`,
        { fatal: true, cause: err, ...details },
      );
    }
    return new PlayerError('TAMPERED', `block ${block.seq} failed AES-GCM authentication${why}`, {
      fatal: true,
      cause: err,
      ...details,
    });
  }

  #noAccess(
    block: SourceBlock,
    reason: string,
    err: unknown,
    kind: 'lost' | 'withheld' = 'lost',
  ): PlayerError {
    const what =
      kind === 'lost'
        ? `you no longer have access to this broadcast (${reason})`
        : `you have no access to this part of the broadcast (${reason})`;
    return new PlayerError(
      'NO_ACCESS',
      `${what}; block ${block.seq} is under a key you were not given`,
      {
        fatal: true,
        cause: err,
        seq: block.seq,
        ...(block.offset !== null ? { offset: block.offset } : {}),
      },
    );
  }
}
