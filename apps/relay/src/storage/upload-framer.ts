/**
 * The relay's view of BlockFramer (@mxcast/format): one push → the whole valid blocks it
 * completed plus, if the input went bad, the FormatError of the first bad block. BlockFramer hands
 * out the blocks completed before a fault and keeps the fault in `error` (throwing it on the next
 * call), so the relay stores every valid block before a bad one (docs/protocol.md "Upload":
 * "every valid block before it is kept") and answers the error at once instead of on the next
 * chunk.
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
  /** The first invalid block; the valid blocks before it are in `blocks`. */
  error?: FormatError;
}

export class UploadFramer {
  private readonly framer: BlockFramer;

  constructor(options: UploadFramerOptions) {
    this.framer = new BlockFramer({
      maxBlockLength: options.maxBlockLength,
      expectMagic: options.startOffset === 0,
      startOffset: options.startOffset,
      expectedSeq: options.expectedSeq,
      byteOrder: options.byteOrder,
    });
  }

  /** Offset of the first byte not yet framed. */
  get offset(): number {
    return this.framer.offset;
  }

  get atBoundary(): boolean {
    return this.framer.atBoundary;
  }

  /** The chunk must not be modified afterwards: blocks may be views into it. */
  push(chunk: Uint8Array): FramerStep {
    try {
      const blocks = this.framer.push(chunk);
      const error = this.framer.error;
      return error ? { blocks, error } : { blocks };
    } catch (err) {
      if (!isFormatError(err)) throw err;
      return { blocks: [], error: err };
    }
  }

  /** Throws TRUNCATED if the input so far ends inside the magic or a block. */
  finish(): void {
    this.framer.finish();
  }
}
