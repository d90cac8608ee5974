/**
 * BlockWriter: plaintext blocks in, framed MXC v3 blocks out (docs/format.md), seq counting from
 * `startSeq`. It refuses to go past MAX_SEQ (MSC4016: implementations MUST terminate a stream
 * whose seqnum is exhausted, so no IV is ever reused).
 */
import type { BlockCipher } from './block-cipher.ts';
import { encodeBlock, sealBlockHeader } from './block-header.ts';
import { checkSeq } from './block-nonce.ts';
import { BLOCK_HEADER_SIZE, GCM_TAG_SIZE, MAGIC, MAX_SEQ } from './format-constants.ts';
import { FormatError } from './format-error.ts';

export interface BlockWriterOptions {
  /** Seq of the first block written (default 0: a new stream). */
  startSeq?: number;
}

export class BlockWriter {
  readonly cipher: BlockCipher;
  #nextSeq: number;

  constructor(cipher: BlockCipher, options: BlockWriterOptions = {}) {
    const start = options.startSeq ?? 0;
    checkSeq(start);
    this.cipher = cipher;
    this.#nextSeq = start;
  }

  /** Seq the next block will carry (MAX_SEQ + 1 once exhausted). */
  get nextSeq(): number {
    return this.#nextSeq;
  }

  /** True when the cipher has synchronous forms (node:crypto) and writeSync may be used. */
  get canWriteSync(): boolean {
    return this.cipher.sync !== null;
  }

  /** The 4-byte file magic, written once before block 0. */
  magic(): Uint8Array {
    return MAGIC.slice();
  }

  /**
   * Encrypts and frames one block. The seq is taken before awaiting, so calls may overlap.
   * In Node the block may be a view into Buffer's shared pool: use it through its own
   * byteOffset/byteLength, never its `.buffer` alone.
   */
  async write(plaintext: Uint8Array): Promise<Uint8Array> {
    // With a synchronous backend, the in-place path: one allocation, no awaited cipher promise.
    if (this.canWriteSync) return this.writeSync(plaintext);
    const seq = this.#takeSeq();
    return encodeBlock(seq, await this.cipher.encrypt(seq, plaintext));
  }

  /** Synchronous write, for backends with a sync capability (the Node fast path). */
  writeSync(plaintext: Uint8Array): Uint8Array {
    const sync = this.cipher.sync;
    if (!sync) {
      throw new FormatError(
        'BAD_ARGUMENT',
        `the ${this.cipher.backend} backend has no synchronous encrypt`,
      );
    }
    const seq = this.#takeSeq();
    // Encrypt straight into the block buffer behind its header: one allocation per block.
    const block = sync.allocate(BLOCK_HEADER_SIZE + plaintext.length + GCM_TAG_SIZE);
    sync.encryptInto(seq, plaintext, block, BLOCK_HEADER_SIZE);
    return sealBlockHeader(block, seq);
  }

  #takeSeq(): number {
    const seq = this.#nextSeq;
    if (seq > MAX_SEQ) {
      throw new FormatError(
        'SEQ_EXHAUSTED',
        `seq ${MAX_SEQ} was the last: another block would wrap seq and reuse an IV; start a new stream`,
        { seq },
      );
    }
    this.#nextSeq = seq + 1;
    return seq;
  }
}
