/**
 * The page's side of the encoder worker's key epochs (docs/format.md "Key epochs"). The worker
 * seals blocks with a ScheduleCipher; the page decides when a new epoch starts, with the same
 * EpochRekeyer as the CLI capture (announce ahead: startSeq = the next block + an adaptive lead,
 * the epoch fixed in the worker before the room is told). This object is the rekeyer's cipher:
 * its schedule mirrors the worker's, and add() resolves only once the worker took the epoch, so
 * an epoch the worker refused (a block at or after its startSeq already sealed) is never
 * announced.
 */
import { epochFromFile, KeySchedule, type EncryptedFile, type Epoch } from '@mxcast/format';
import type { FromEncoder, ToEncoder } from './encoder-protocol.ts';

type EpochAnswer = Extract<FromEncoder, { type: 'epoch' }>;

export class WorkerEpochs {
  readonly schedule: KeySchedule;
  readonly #post: (message: ToEncoder) => void;
  readonly #waiting = new Map<number, (answer: EpochAnswer) => void>();
  /** Seq of the next block the worker will hand over: one past the last block seen. */
  #nextSeq = 0;

  constructor(file: EncryptedFile, post: (message: ToEncoder) => void) {
    this.schedule = new KeySchedule([epochFromFile(file)]);
    this.#post = post;
  }

  get nextSeq(): number {
    return this.#nextSeq;
  }

  /** A block came out of the worker (its seq), so the next one is after it. */
  sealed(seq: number): void {
    if (seq + 1 > this.#nextSeq) this.#nextSeq = seq + 1;
  }

  /** The worker's answer to an 'epoch' message. */
  answered(answer: EpochAnswer): void {
    const resolve = this.#waiting.get(answer.startSeq);
    this.#waiting.delete(answer.startSeq);
    resolve?.(answer);
  }

  async add(epoch: Epoch): Promise<void> {
    const checked = this.schedule.check(epoch);
    if (this.#waiting.has(checked.startSeq)) {
      throw new Error(`an epoch at block ${checked.startSeq} is already on its way to the encoder`);
    }
    const answer = await new Promise<EpochAnswer>((resolve) => {
      this.#waiting.set(checked.startSeq, resolve);
      this.#post({ type: 'epoch', epoch: checked });
    });
    if (!answer.ok) throw new Error(answer.error ?? 'the encoder refused the key epoch');
    this.schedule.add(checked);
  }

  /** The encoder stopped: nothing it was asked will be answered. */
  fail(message: string): void {
    for (const [startSeq, resolve] of this.#waiting) {
      resolve({ type: 'epoch', startSeq, ok: false, error: message });
    }
    this.#waiting.clear();
  }
}
