/**
 * BlockFramer (from @mxcast/format) with one more guarantee the relay needs: when a chunk holds
 * valid blocks followed by a bad one, the valid ones are still returned (the issue: "every valid
 * block before it is kept"). BlockFramer throws for the whole push, so this keeps views of the
 * bytes the framer has buffered but not yet framed and, on an error, frames them again with a fresh
 * framer up to the bad block's offset (FormatError.offset is the start of the bad block).
 */
import {
  BlockFramer,
  isFormatError,
  type ByteOrder,
  type FormatError,
  type FramedBlock,
} from '@mxcast/format';

export interface UploadFramerOptions {
  maxBlockLength: number;
  /** Absolute offset of the first byte pushed: 0 means the upload starts with the magic. */
  startOffset: number;
  /** Seq the first block must carry (the media's block count). */
  expectedSeq: number;
  byteOrder: ByteOrder | undefined;
}

export interface FramerStep {
  blocks: FramedBlock[];
  /** The first invalid block; blocks before it are in `blocks`. */
  error?: FormatError;
}

export class UploadFramer {
  private framer: BlockFramer;
  /** Views of the bytes pushed but not yet returned in a block (framer.buffered of them). */
  private carry: Uint8Array[] = [];

  constructor(private readonly options: UploadFramerOptions) {
    this.framer = this.newFramer(options.startOffset, options.expectedSeq, options.byteOrder);
  }

  /** Offset of the first byte not yet framed. */
  get offset(): number {
    return this.framer.offset;
  }

  get atBoundary(): boolean {
    return this.framer.atBoundary;
  }

  push(chunk: Uint8Array): FramerStep {
    const start = this.framer.offset;
    const nextSeq = this.framer.nextSeq ?? this.options.expectedSeq;
    const order = this.framer.byteOrder ?? this.options.byteOrder;
    const pending = [...this.carry, chunk];
    try {
      const blocks = this.framer.push(chunk);
      this.keepTail(pending, this.framer.buffered);
      return { blocks };
    } catch (err) {
      if (!isFormatError(err)) throw err;
      this.carry = [];
      const badAt = err.offset ?? start;
      const prefix = concat(pending).subarray(0, Math.max(0, badAt - start));
      let blocks: FramedBlock[] = [];
      if (prefix.length > 0) {
        try {
          blocks = this.newFramer(start, nextSeq, order).push(prefix);
        } catch {
          blocks = [];
        }
      }
      return { blocks, error: err };
    }
  }

  /** Throws TRUNCATED if the input so far ends inside the magic or a block. */
  finish(): void {
    this.framer.finish();
  }

  private newFramer(
    startOffset: number,
    expectedSeq: number,
    byteOrder: ByteOrder | undefined,
  ): BlockFramer {
    return new BlockFramer({
      maxBlockLength: this.options.maxBlockLength,
      expectMagic: startOffset === 0,
      startOffset,
      expectedSeq,
      byteOrder,
    });
  }

  private keepTail(pieces: Uint8Array[], keep: number): void {
    const out: Uint8Array[] = [];
    for (let i = pieces.length - 1; i >= 0 && keep > 0; i--) {
      const p = pieces[i] as Uint8Array;
      const take = Math.min(keep, p.length);
      out.unshift(take === p.length ? p : p.subarray(p.length - take));
      keep -= take;
    }
    this.carry = out;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
