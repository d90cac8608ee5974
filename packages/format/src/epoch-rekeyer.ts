/**
 * EpochRekeyer: the capture's side of key epochs (docs/format.md "Key epochs"), shared by the
 * CLI capture (apps/capture) and the web broadcaster (apps/web), so both announce ahead alike. A new epoch is
 * announced ahead: its startSeq is the next block's seq plus a lead (enough blocks to cover the
 * announcement's delivery), its key and IV are fresh, its cipher is ready and the resume state
 * holding it is saved before anyone is told, and only then does `onEpoch` send it (the Matrix
 * side posts the encrypted epoch event there). The pipeline's ScheduleCipher switches keys
 * exactly at startSeq, so the boundary always falls between two blocks and a member's player
 * has the key before the first block under it arrives.
 */
import type { ScheduleCipher } from './key-schedule-cipher.ts';
import { generateEpoch, type Epoch } from './key-schedule.ts';

export interface EpochRekeyerOptions {
  /**
   * The pipeline's cipher, or what stands for it: the web broadcaster seals in a worker, so its
   * page passes the schedule and an add() that the worker answers (apps/web worker-epochs.ts).
   */
  cipher: Pick<ScheduleCipher, 'schedule' | 'add'>;
  /** Seq of the next block the pipeline will seal. */
  nextSeq: () => number;
  /** Blocks between the next block and the new epoch's first (≥ 1): the least lead. */
  leadBlocks: number;
  /**
   * Milliseconds of audio per block. With it the lead adapts: at least twice the slowest
   * announcement so far (docs/format.md "Key epochs", announce ahead), so a homeserver that
   * answers slowly under load gets more lead instead of members reaching a boundary keyless.
   */
  blockMs?: number;
  /** How each announcement went (the capture prints it: the lead against the homeserver). */
  onAnnounced?: (a: EpochAnnouncement) => void;
  /** Saves the resume state with the new epoch in it (before the epoch is announced). */
  persist?: () => Promise<void>;
  /** Sends the epoch to the members (the Matrix epoch event); a rejection fails that rekey. */
  onEpoch?: (epoch: Epoch) => Promise<void>;
}

/** How one announcement went: how long onEpoch took and how many blocks of lead were left. */
export interface EpochAnnouncement {
  startSeq: number;
  /** Milliseconds onEpoch took (0 without one). */
  ms: number;
  /** startSeq minus the next block's seq when onEpoch resolved: < 0 means announced late. */
  marginBlocks: number;
}

export class EpochRekeyer {
  readonly #o: EpochRekeyerOptions;
  /** Rekeys run one after another, so two at once never pick the same startSeq. */
  #chain: Promise<unknown> = Promise.resolve();
  readonly announcements: EpochAnnouncement[] = [];
  /** The slowest onEpoch so far, in milliseconds. */
  #slowestMs = 0;

  constructor(options: EpochRekeyerOptions) {
    if (!Number.isInteger(options.leadBlocks) || options.leadBlocks < 1) {
      throw new Error(`rekey lead must be at least one block, got ${options.leadBlocks}`);
    }
    this.#o = options;
  }

  /** The lead a rekey now gets: the configured one, or twice the slowest announcement. */
  get leadBlocks(): number {
    const { leadBlocks, blockMs } = this.#o;
    if (!blockMs) return leadBlocks;
    return Math.max(leadBlocks, Math.ceil((2 * this.#slowestMs) / blockMs));
  }

  get epochs(): readonly Epoch[] {
    return this.#o.cipher.schedule.epochs;
  }

  /**
   * Fixes the next epoch: picks startSeq, makes its cipher, saves the state. Resolves once the
   * pipeline is bound to switch at startSeq; the epoch is not yet announced.
   */
  commit(): Promise<Epoch> {
    return this.#queue(() => {
      const o = this.#o;
      // A second rekey while the last one is still ahead starts right after it.
      return Math.max(o.nextSeq() + this.leadBlocks, o.cipher.schedule.last.startSeq + 1);
    });
  }

  /**
   * Fixes the next epoch at exactly `startSeq` (the header epoch's end, docs/format.md "Key
   * epochs": the first audio block). The ScheduleCipher refuses it if a block at or after
   * startSeq was already sealed.
   */
  commitAt(startSeq: number): Promise<Epoch> {
    return this.#queue(() => startSeq);
  }

  #queue(pick: () => number): Promise<Epoch> {
    const next = this.#chain.then(() => this.#commit(pick()));
    this.#chain = next.catch(() => {});
    return next;
  }

  async #commit(startSeq: number): Promise<Epoch> {
    const o = this.#o;
    const epoch = generateEpoch(startSeq);
    await o.cipher.add(epoch);
    await o.persist?.();
    return epoch;
  }

  /** Sends a committed epoch through onEpoch and records how much lead was left. */
  async announce(epoch: Epoch): Promise<Epoch> {
    const started = performance.now();
    await this.#o.onEpoch?.(epoch);
    const a: EpochAnnouncement = {
      startSeq: epoch.startSeq,
      ms: Math.round(performance.now() - started),
      marginBlocks: epoch.startSeq - this.#o.nextSeq(),
    };
    this.announcements.push(a);
    this.#slowestMs = Math.max(this.#slowestMs, a.ms);
    this.#o.onAnnounced?.(a);
    return epoch;
  }

  /** commit() then announce(): resolves with the epoch once the members were sent it. */
  async rekey(): Promise<Epoch> {
    return this.announce(await this.commit());
  }
}
