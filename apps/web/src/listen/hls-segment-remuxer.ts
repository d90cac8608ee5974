/**
 * Turns the relay's HLS byte ranges into what MSE plays: the EXT-X-MAP range (magic + blocks 0
 * and 1) into an fMP4 init segment, each media segment (whole audio blocks) into one fMP4
 * fragment. Every block goes through the direct player's BlockAuthenticator (one gate for both
 * engines): its seq must follow the one before — within a segment, and from segment to segment
 * when hls.js loads them in order; a segment hls.js jumps to must start at the seq its plan
 * fixes (hls-segment-plan.ts) — then its AES-GCM tag must verify. A block that fails stops the
 * segment, so no unauthenticated, dropped, replayed or reordered audio is ever played.
 */
import { BlockFramer, type BlockCipher, type FramedBlock } from '@mxcast/format';
import { opusPacketSamples, parseOpusPage, type OpusHead } from '@mxcast/ogg';
import {
  BlockAuthenticator,
  isPlayerError,
  type EpochKeyOptions,
  type SourceBlock,
} from '@mxcast/player';
import { opusFragment, opusInitSegment, type OpusSample } from '../mp4/opus-fmp4.ts';
import type { SegmentPlan } from './hls-segment-plan.ts';

export class RemuxError extends Error {
  constructor(
    readonly code: 'WRONG_KEY' | 'TAMPERED' | 'NO_ACCESS' | 'BAD_STREAM',
    message: string,
  ) {
    super(message);
    this.name = 'RemuxError';
  }
}

export interface RemuxedSegment {
  data: Uint8Array;
  /** The segment's last page carried EOS: the broadcast finished (docs/audio.md). */
  eos: boolean;
  /** First and last block seq in the segment. */
  firstSeq: number;
  lastSeq: number;
}

export class HlsSegmentRemuxer {
  readonly #auth: BlockAuthenticator;
  #head: OpusHead | null = null;
  #fragments = 0;
  /**
   * The seq just after the last segment or part remuxed (whole per its plan), so the next one
   * is "in order" when its plan starts there: segment after segment, part after part, or a
   * segment's last part then the next segment or its first part (low-latency HLS).
   */
  #lastEnd: number | undefined;
  /**
   * Each block that passed the gate (seq, ciphertext with tag): a room listen digests it for
   * the sender's checkpoints (hls-claims-tap.ts).
   */
  onAuthenticated: ((seq: number, ciphertext: Uint8Array) => void) | undefined;
  /**
   * The first block this listener can open (startAt): a segment hls.js jumps to that spans it
   * skips the blocks before it, which lie in a stretch the key source withholds.
   */
  #firstPlayable: number | undefined;
  /** Segments are remuxed one at a time: hls.js may start a load while another is decrypting. */
  #queue: Promise<unknown> = Promise.resolve();

  /**
   * With `epochs` (a room broadcast's key epochs, docs/matrix.md "Key epochs") the cipher is a
   * ScheduleCipher made from `epochs.keys.epochs`: the same gate as the direct player's, so each
   * block must open under the epoch its seq falls in, and a block past the last known boundary
   * waits (bounded) for the epoch event instead of failing at once.
   */
  constructor(cipher: BlockCipher, epochs?: EpochKeyOptions) {
    this.#auth = new BlockAuthenticator(cipher, epochs);
  }

  /** The engine stopped: a block waiting for its epoch's key gives up at once. */
  stop(): void {
    this.#auth.stop();
  }

  /**
   * A `joined` newcomer's live start (docs/matrix.md "Key epochs"): blocks before `seq` are
   * under keys it was not given, so the segment or part holding `seq` plays from `seq` on — the
   * blocks before it are neither opened nor played, and the first block opened must carry `seq`
   * exactly (the seq the key source, not the relay, gave). A segment wholly before `seq` is
   * opened as usual and says NO_ACCESS, the truth.
   */
  startAt(seq: number): void {
    this.#firstPlayable = seq;
  }

  get head(): OpusHead | null {
    return this.#head;
  }

  /** `bytes` starts at offset 0: the magic, OpusHead block and OpusTags block. */
  init(bytes: Uint8Array): Promise<Uint8Array> {
    return this.#serially(async () => {
      const blocks = this.#frame(bytes, 0, true);
      const [first, second] = blocks;
      if (!first || first.seq !== 0 || second?.seq !== 1)
        throw new RemuxError('BAD_STREAM', 'the EXT-X-MAP range does not hold blocks 0 and 1');
      this.#lastEnd = undefined;
      this.#auth.requireNext(0);
      const page = parseOpusPage(await this.#open(first));
      await this.#open(second); // OpusTags: nothing in it is needed, but it is the stream's too
      if (page.kind !== 'head')
        throw new RemuxError('BAD_STREAM', `block 0 holds an Ogg ${page.kind} page, not OpusHead`);
      this.#head = page.head;
      return opusInitSegment(page.head);
    });
  }

  /**
   * `bytes` is the segment's byte range, starting at `offset` (a block boundary); `plan` says
   * which blocks it must hold (from the geometry and its place in the playlist).
   */
  segment(bytes: Uint8Array, offset: number, plan: SegmentPlan): Promise<RemuxedSegment> {
    return this.#serially(async () => {
      try {
        const out = await this.#segment(bytes, offset, plan);
        this.#lastEnd = out.lastSeq + 1;
        return out;
      } catch (error) {
        // A segment retried after a failure (hls.js retries BAD_STREAM) starts afresh.
        this.#lastEnd = undefined;
        throw error;
      }
    });
  }

  async #segment(bytes: Uint8Array, offset: number, plan: SegmentPlan): Promise<RemuxedSegment> {
    let blocks = this.#frameSegment(bytes, offset, plan);
    const count = blocks.length;
    if (plan.tail ? count < 1 || count > plan.blocks : count !== plan.blocks) {
      throw new RemuxError(
        'TAMPERED',
        `${unitName(plan)} holds ${count} blocks where the playlist lists ${plan.tail ? `at most ${plan.blocks}` : plan.blocks}`,
      );
    }
    const expected = this.#auth.expectedSeq;
    if (this.#lastEnd !== undefined && plan.firstSeq === this.#lastEnd) {
      // In order after the segment before it: the seq carries on from there, and it must be
      // where this segment starts.
      if (expected !== plan.firstSeq)
        throw new RemuxError(
          'TAMPERED',
          `${unitName(plan)} must start at seq ${plan.firstSeq}, the one before ended at seq ${(expected ?? 0) - 1}`,
        );
    } else {
      // A jump hls.js made (start, seek, reload): the seq restarts where this segment must start,
      // or at the first playable block when the segment spans it (startAt).
      const first = this.#firstPlayable;
      if (first !== undefined && plan.firstSeq < first && first < plan.firstSeq + count) {
        blocks = blocks.slice(first - plan.firstSeq);
        this.#auth.requireNext(first);
      } else this.#auth.requireNext(plan.firstSeq);
    }
    const samples: OpusSample[] = [];
    let start: bigint | null = null;
    let eos = false;
    for (const block of blocks) {
      const page = parseOpusPage(await this.#open(block));
      if (page.kind !== 'audio') continue;
      start ??= page.granule - BigInt(page.samples);
      for (const data of page.packets) samples.push({ data, duration: opusPacketSamples(data) });
      eos ||= page.eos;
    }
    if (start === null)
      throw new RemuxError('BAD_STREAM', `no audio block in the segment at ${offset}`);
    this.#fragments++;
    return {
      data: opusFragment(this.#fragments, start < 0n ? 0n : start, samples),
      eos,
      firstSeq: blocks[0]!.seq,
      lastSeq: blocks[blocks.length - 1]!.seq,
    };
  }

  #serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * A listed segment is a range of whole blocks at a block boundary the relay itself gave:
   * bytes that do not frame there (bad CRC, a cut block) are broken framing at a known
   * boundary, which the player calls tampering (docs/player.md).
   */
  #frameSegment(bytes: Uint8Array, offset: number, plan: SegmentPlan): FramedBlock[] {
    try {
      return this.#frame(bytes, offset, false);
    } catch (error) {
      throw new RemuxError(
        'TAMPERED',
        `${unitName(plan)}: ${(error as Error).message.replace(/^segment at \d+: /, '')}`,
      );
    }
  }

  #frame(bytes: Uint8Array, offset: number, magic: boolean) {
    try {
      const framer = new BlockFramer({ expectMagic: magic, startOffset: offset });
      const blocks = framer.push(bytes);
      framer.finish();
      return blocks;
    } catch (error) {
      throw new RemuxError('BAD_STREAM', `segment at ${offset}: ${(error as Error).message}`);
    }
  }

  /** Through the player's authenticator: its PlayerError becomes this engine's RemuxError. */
  async #open(block: FramedBlock): Promise<Uint8Array> {
    const source: SourceBlock = {
      seq: block.seq,
      offset: block.offset,
      size: block.bytes.length,
      ciphertext: block.ciphertext,
      byteOrder: block.byteOrder,
    };
    try {
      const plain = await this.#auth.open(source);
      this.onAuthenticated?.(block.seq, block.ciphertext);
      return plain;
    } catch (error) {
      if (
        isPlayerError(error) &&
        (error.code === 'WRONG_KEY' || error.code === 'TAMPERED' || error.code === 'NO_ACCESS')
      )
        throw new RemuxError(error.code, error.message);
      throw error;
    }
  }
}

/** "segment 4" or "segment 4 part 2", for messages. */
function unitName(plan: SegmentPlan): string {
  return plan.part === undefined ? `segment ${plan.sn}` : `segment ${plan.sn} part ${plan.part}`;
}
