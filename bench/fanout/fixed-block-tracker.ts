/**
 * Turns a count of body bytes into completed blocks without parsing them: every audio
 * block of the bench stream has the same size, so with the body starting at a known block
 * boundary, block `seq` ends at `start + (seq − firstSeq + 1) × blockBytes`. This is the
 * cheap "cumulative byte offset" measure for HTTP listeners of the relay.
 */
export class FixedBlockTracker {
  #offset: number;
  #nextEnd: number;
  #seq: number;
  readonly #blockBytes: number;
  readonly #onBlock: (seq: number) => void;

  constructor(
    firstSeq: number,
    startOffset: number,
    blockBytes: number,
    onBlock: (seq: number) => void,
  ) {
    this.#seq = firstSeq;
    this.#offset = startOffset;
    this.#nextEnd = startOffset + blockBytes;
    this.#blockBytes = blockBytes;
    this.#onBlock = onBlock;
  }

  get offset(): number {
    return this.#offset;
  }

  add(bytes: number): void {
    this.#offset += bytes;
    while (this.#offset >= this.#nextEnd) {
      this.#onBlock(this.#seq++);
      this.#nextEnd += this.#blockBytes;
    }
  }
}
