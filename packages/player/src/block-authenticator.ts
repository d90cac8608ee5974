/**
 * The gate no unauthenticated byte passes (docs/format.md): checks that each block's seq follows
 * the last one (MSC4016: readers end a stream whose seq does not increase by exactly one,
 * except across a seek the reader itself made), then decrypts it with AES-256-GCM, whose tag
 * (and the seq in IV and AAD) detects bit flips, splicing from another stream or position,
 * reordering and duplication. Only the plaintext of a block that passed both leaves this file.
 */
import type { BlockCipher } from '@mxcast/format';
import type { SourceBlock } from './block-source.ts';
import { PlayerError } from './player-error.ts';

export class BlockAuthenticator {
  readonly #cipher: BlockCipher;
  #expected: number | undefined;
  /** True once any block authenticated: a failure after that is tampering, before it a wrong key. */
  #anyAuthenticated = false;
  #allowedJump: number | 'any' | undefined = 'any';

  constructor(cipher: BlockCipher) {
    this.#cipher = cipher;
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
    try {
      // The synchronous node:crypto form saves a promise per block where the backend has it.
      plaintext = this.#cipher.sync
        ? this.#cipher.sync.decrypt(block.seq, block.ciphertext, block.byteOrder)
        : await this.#cipher.decrypt(block.seq, block.ciphertext, block.byteOrder);
    } catch (err) {
      const details = {
        seq: block.seq,
        ...(block.offset !== null ? { offset: block.offset } : {}),
      };
      if (!this.#anyAuthenticated) {
        throw new PlayerError(
          'WRONG_KEY',
          `block ${block.seq} failed authentication before any block passed: wrong key or IV (${(err as Error).message})`,
          { fatal: true, cause: err, ...details },
        );
      }
      throw new PlayerError('TAMPERED', `block ${block.seq} failed AES-GCM authentication`, {
        fatal: true,
        cause: err,
        ...details,
      });
    }
    this.#anyAuthenticated = true;
    this.#allowedJump = undefined;
    this.#expected = block.seq + 1;
    return plaintext;
  }
}
