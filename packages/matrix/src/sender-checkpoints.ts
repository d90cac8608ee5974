/**
 * What the sender vouches for (docs/matrix.md "Checkpoints and completion"), and the pure check
 * of a stream against it. No Matrix here: the capture feeds a CheckpointRecorder with the blocks
 * it wrote, a listener feeds a CheckpointVerifier with the claims (decrypted checkpoint,
 * completion and cancel events) and with the blocks as the player authenticates them.
 *
 * The construction, a one-level hash list: a checkpoint covers the blocks [from_seq,
 * block_count) and carries D = SHA-256( SHA-256(c_from) ‖ … ‖ SHA-256(c_(count-1)) ), c_i being
 * block i's ciphertext with its GCM tag (the bytes after the 16-byte header, docs/format.md).
 * Why not sha256 over the file's bytes so far: a WebSocket listener never sees offsets or headers
 * (the relay may send either byte order), and a listener that joined live or seeked has no prefix
 * of the file; with a hash per interval it verifies every interval it saw whole. Why a hash per
 * block inside it: the checkpoint event arrives after the blocks it covers (the sender sends it
 * once they are written), so the verifier keeps 32 bytes per block until a claim covers them,
 * instead of the blocks. MSC4016's security section leaves truncation and reordering to the
 * reader; the GCM tag with the seq in IV and AAD (STREAM-style, as Tink's streaming AEAD) already
 * catches a flipped, swapped or replayed block, so what the claims add is the sender's word on
 * which blocks exist: a relay that drops blocks it could otherwise pass off as a skip, or ends a
 * stream early and calls it complete, is caught here.
 */
import { createHash } from 'node:crypto';

/** One interval's claim: blocks [fromSeq, blockCount) hash to `digest` (base64, unpadded). */
export interface CheckpointClaim {
  fromSeq: number;
  blockCount: number;
  digest: string;
}

/** The sender's last word: the final interval, so the whole stream is covered. */
export interface CompletionClaim extends CheckpointClaim {
  /** sha256 of the whole file as the relay stores it (MSC4101 style), base64 unpadded. */
  fileSha256?: string;
  size?: number;
}

export interface CancelClaim {
  /** Blocks the sender had written when it cancelled. */
  blockCount: number;
}

function blockHash(ciphertext: Uint8Array): Uint8Array {
  return createHash('sha256').update(ciphertext).digest();
}

function listDigest(hashes: Iterable<Uint8Array>): string {
  const h = createHash('sha256');
  for (const b of hashes) h.update(b);
  return h.digest('base64').replace(/=+$/, '');
}

/** The capture's side: hashes each block written and cuts a claim when asked. */
export class CheckpointRecorder {
  #from: number | undefined;
  #hashes: Uint8Array[] = [];

  /** Blocks in seq order (a resumed run starts at its resume seq). */
  add(seq: number, ciphertext: Uint8Array): void {
    const next = this.#from === undefined ? seq : this.#from + this.#hashes.length;
    if (seq !== next)
      throw new Error(`checkpoint recorder: block ${seq} does not follow ${next - 1}`);
    this.#from ??= seq;
    this.#hashes.push(blockHash(ciphertext));
  }

  /** Blocks since the last claim. */
  get pending(): number {
    return this.#hashes.length;
  }

  /** The claim for the blocks since the last one (null when there are none), and starts anew. */
  cut(): CheckpointClaim | null {
    if (this.#from === undefined || this.#hashes.length === 0) return null;
    const claim = {
      fromSeq: this.#from,
      blockCount: this.#from + this.#hashes.length,
      digest: listDigest(this.#hashes),
    };
    this.#from = claim.blockCount;
    this.#hashes = [];
    return claim;
  }
}

/** How a stream ended, as far as the sender's claims and the relay tell. */
export type StreamOutcome =
  /** Every block up to the completion's count arrived and the last interval matched. */
  | 'finished'
  /** The sender cancelled (its cancel event) and the relay ended the stream. */
  | 'cancelled'
  /** The relay ended the stream before the blocks the sender vouched for (or cancelled it alone). */
  | 'cut'
  /** No completion or cancel from the sender: it went silent (paused, crashed, lost network). */
  | 'interrupted';

export class CheckpointMismatch extends Error {
  override name = 'CheckpointMismatch';
  constructor(
    message: string,
    readonly seq: number,
  ) {
    super(message);
  }
}

/** Per-block hashes kept at most (32 bytes each): blocks no claim covers yet. */
const DEFAULT_MAX_PENDING = 100_000;

/**
 * The listener's side. Throws CheckpointMismatch (the CLI maps it to TAMPERED) as soon as an
 * interval the listener saw whole does not hash to the sender's digest, or the relay serves a
 * block past the sender's last one.
 */
export class CheckpointVerifier {
  readonly #hashes = new Map<number, Uint8Array>();
  readonly #claims: CheckpointClaim[] = [];
  /** Claims already taken, by interval and digest: a completion may repeat the last checkpoint. */
  readonly #seen = new Set<string>();
  readonly #maxPending: number;
  #completion: CompletionClaim | undefined;
  #cancel: CancelClaim | undefined;
  #lastSeq: number | undefined;
  /** Intervals checked and found equal. */
  verified = 0;
  /** Intervals that could not be checked: the listener did not see all their blocks. */
  unverifiable = 0;

  constructor(options: { maxPending?: number } = {}) {
    this.#maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
  }

  /** An authenticated block, in the order the player read it. */
  onBlock(seq: number, ciphertext: Uint8Array): void {
    this.onBlockDigest(seq, blockHash(ciphertext));
  }

  /**
   * The same, from the block's SHA-256 alone (the player's `digest` event): the verifier never
   * needs a block's bytes, so a listener checks while it plays without keeping them.
   */
  onBlockDigest(seq: number, sha256: Uint8Array): void {
    if (sha256.length !== 32) throw new Error(`a block digest is 32 bytes, not ${sha256.length}`);
    const last = this.#completion?.blockCount ?? this.#cancel?.blockCount;
    if (last !== undefined && seq >= last) {
      throw new CheckpointMismatch(`block ${seq} is past the sender's last block ${last - 1}`, seq);
    }
    this.#lastSeq = seq;
    // A copy (the caller may reuse its array); Uint8Array, not Buffer: browsers run this too.
    this.#hashes.set(seq, Uint8Array.from(sha256));
    if (this.#hashes.size > this.#maxPending) {
      // Oldest first (Map keeps insertion order): that interval becomes unverifiable, not wrong.
      const oldest = this.#hashes.keys().next().value as number;
      this.#hashes.delete(oldest);
    }
    this.#settle();
  }

  addCheckpoint(claim: CheckpointClaim): void {
    this.#take(claim);
    this.#settle();
  }

  #take(claim: CheckpointClaim): void {
    const key = `${claim.fromSeq}:${claim.blockCount}:${claim.digest}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.#claims.push(claim);
  }

  setCompletion(claim: CompletionClaim): void {
    this.#completion = claim;
    this.#take(claim);
    if (this.#lastSeq !== undefined && this.#lastSeq >= claim.blockCount) {
      throw new CheckpointMismatch(
        `the relay served block ${this.#lastSeq}; the sender's last is ${claim.blockCount - 1}`,
        this.#lastSeq,
      );
    }
    this.#settle();
  }

  setCancel(claim: CancelClaim): void {
    this.#cancel = claim;
  }

  /** Checks every claim whose blocks are all here; drops claims that can never be checked. */
  #settle(): void {
    for (let i = 0; i < this.#claims.length;) {
      const c = this.#claims[i]!;
      const r = this.#check(c);
      if (r === 'wait') {
        i++;
        continue;
      }
      this.#claims.splice(i, 1);
      for (let s = c.fromSeq; s < c.blockCount; s++) this.#hashes.delete(s);
      if (r === 'ok') this.verified++;
      else this.unverifiable++;
    }
  }

  #check(c: CheckpointClaim): 'ok' | 'wait' | 'unverifiable' {
    const hashes: Uint8Array[] = [];
    let missing = false;
    for (let s = c.fromSeq; s < c.blockCount; s++) {
      const h = this.#hashes.get(s);
      if (h) hashes.push(h);
      else missing = true;
    }
    if (missing) {
      // Blocks still to come (live), or never seen (joined later, seeked past, skipped).
      if (this.#lastSeq === undefined || this.#lastSeq < c.blockCount - 1) return 'wait';
      return 'unverifiable';
    }
    if (listDigest(hashes) !== c.digest) {
      throw new CheckpointMismatch(
        `blocks ${c.fromSeq}–${c.blockCount - 1} do not hash to the sender's checkpoint`,
        c.fromSeq,
      );
    }
    return 'ok';
  }

  /**
   * The relay ended the stream (its `complete` or `cancelled`, or a clean close): what that was,
   * against the sender's claims. `lastSeq` is the last block the listener read.
   */
  outcome(relayState: 'complete' | 'cancelled' | 'unknown'): StreamOutcome {
    const seen = this.#lastSeq ?? -1;
    if (this.#completion) {
      return seen >= this.#completion.blockCount - 1 && relayState !== 'cancelled'
        ? 'finished'
        : 'cut';
    }
    if (this.#cancel) return 'cancelled';
    // The relay says done (or cancelled) though the sender never said so.
    if (relayState === 'complete' || relayState === 'cancelled') return 'cut';
    return 'interrupted';
  }
}
