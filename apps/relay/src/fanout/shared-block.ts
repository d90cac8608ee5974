/**
 * A stored block as every listener gets it, framed once per block for all listeners
 * (docs/benchmarks.md "Live fan-out"):
 * - `frame`: ONE buffer holding a WebSocket frame header (RFC 6455 §5.2: FIN + binary opcode,
 *   server frames are unmasked) followed by the block's bytes; `bytes` is a view of the same
 *   memory (what is stored, and what a byte-range or close-delimited HTTP body carries).
 * - `chunk`: the block as one HTTP/1.1 chunk (RFC 9112 §7.1: chunk-size in hex, CRLF, data, CRLF),
 *   built on first use — only media with a live chunked HTTP listener pay for it — and then shared
 *   by every such listener, so a live HTTP block is one socket write of a prebuilt buffer.
 * So a block costs at most two buffers however many listeners it has, and no listener gets a copy.
 *
 * A run of consecutive blocks (joinBlocks) is a SharedBlock too, with `count` > 1: `frame` holds
 * one WebSocket frame per block back to back, `bytes` the blocks' bytes (contiguous in the file),
 * `chunk` one HTTP chunk of them all, and `parts` the single blocks. The hub fans out a run when
 * blocks queued up behind a fan-out, so a listener gets them in one write instead of one each.
 */
export class SharedBlock {
  private chunkBuffer: Buffer | null = null;

  constructor(
    /** Seq of the (first) block. */
    readonly seq: number,
    /** Byte offset of the (first) block in the media file. */
    readonly offset: number,
    /** The complete WebSocket binary frame(s) carrying `bytes`. */
    readonly frame: Buffer,
    /** Header + ciphertext, exactly the stored bytes. */
    readonly bytes: Buffer,
    /** Blocks carried: 1, or more for a run. */
    readonly count = 1,
    /** A run's single blocks, in order. */
    readonly parts: readonly SharedBlock[] = [],
  ) {}

  /** `bytes` as one HTTP chunk: `<hex size>\r\n<bytes>\r\n`. */
  get chunk(): Buffer {
    if (this.chunkBuffer) return this.chunkBuffer;
    const size = this.bytes.length.toString(16);
    const chunk = Buffer.allocUnsafe(size.length + 2 + this.bytes.length + 2);
    chunk.write(size, 0, 'latin1');
    let at = size.length;
    chunk[at++] = 0x0d;
    chunk[at++] = 0x0a;
    chunk.set(this.bytes, at);
    at += this.bytes.length;
    chunk[at++] = 0x0d;
    chunk[at] = 0x0a;
    this.chunkBuffer = chunk;
    return chunk;
  }
}

/**
 * A status frame riding on a block's fan-out (media-hub.ts refreshStatus): `frame` alone, and
 * `afterBlock`, the block's frame(s) followed by it in one buffer built once for every WebSocket
 * listener, so the status costs a listener no write of its own.
 */
export class CarriedStatus {
  readonly afterBlock: Buffer;

  constructor(
    readonly block: SharedBlock,
    readonly frame: Buffer,
  ) {
    this.afterBlock = Buffer.concat([block.frame, frame]);
  }
}

/**
 * A JSON status message (docs/protocol.md) as one unmasked WebSocket text frame (RFC 6455 §5.2:
 * FIN + opcode 1), built once for every listener of a media like a block's frame.
 */
export function wsTextFrame(json: Buffer): Buffer {
  return wsFrame(0x81, json);
}

export function wsFrameHeaderLength(payloadLength: number): number {
  return payloadLength < 126 ? 2 : payloadLength < 65536 ? 4 : 10;
}

/** Copies `block` once into a new buffer laid out as [WS frame header | block]. */
export function makeSharedBlock(seq: number, offset: number, block: Uint8Array): SharedBlock {
  const frame = wsFrame(0x82, block);
  return new SharedBlock(seq, offset, frame, frame.subarray(wsFrameHeaderLength(block.length)));
}

/** Consecutive blocks (seq and offset in order, no gap) as one run: two copies, shared by all. */
export function joinBlocks(blocks: readonly SharedBlock[]): SharedBlock {
  const first = blocks[0];
  if (!first) throw new RangeError('joinBlocks needs at least one block');
  if (blocks.length === 1) return first;
  return new SharedBlock(
    first.seq,
    first.offset,
    Buffer.concat(blocks.map((b) => b.frame)),
    Buffer.concat(blocks.map((b) => b.bytes)),
    blocks.length,
    blocks,
  );
}

/** [FIN | opcode, length | payload] in one new buffer. */
function wsFrame(first: number, payload: Uint8Array): Buffer {
  const len = payload.length;
  const head = wsFrameHeaderLength(len);
  const frame = Buffer.allocUnsafe(head + len);
  frame[0] = first;
  if (len < 126) {
    frame[1] = len;
  } else if (len < 65536) {
    frame[1] = 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
    frame.writeUInt32BE(len >>> 0, 6);
  }
  frame.set(payload, head);
  return frame;
}
