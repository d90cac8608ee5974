/**
 * A stored block as every listener gets it, framed once per block for all listeners (issue 3,
 * "Fan-out engineering"):
 * - `frame`: ONE buffer holding a WebSocket frame header (RFC 6455 §5.2: FIN + binary opcode,
 *   server frames are unmasked) followed by the block's bytes; `bytes` is a view of the same
 *   memory (what is stored, and what a byte-range or close-delimited HTTP body carries).
 * - `chunk`: the block as one HTTP/1.1 chunk (RFC 9112 §7.1: chunk-size in hex, CRLF, data, CRLF),
 *   built on first use — only media with a live chunked HTTP listener pay for it — and then shared
 *   by every such listener, so a live HTTP block is one socket write of a prebuilt buffer.
 * So a block costs at most two buffers however many listeners it has, and no listener gets a copy.
 */
export class SharedBlock {
  /** Header + ciphertext, exactly the stored bytes (a view into `frame`). */
  readonly bytes: Buffer;
  private chunkBuffer: Buffer | null = null;

  constructor(
    readonly seq: number,
    /** Byte offset of the block in the media file. */
    readonly offset: number,
    /** The complete WebSocket binary frame carrying `bytes`. */
    readonly frame: Buffer,
    headerLength: number,
  ) {
    this.bytes = frame.subarray(headerLength);
  }

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

export function wsFrameHeaderLength(payloadLength: number): number {
  return payloadLength < 126 ? 2 : payloadLength < 65536 ? 4 : 10;
}

/** Copies `block` once into a new buffer laid out as [WS frame header | block]. */
export function makeSharedBlock(seq: number, offset: number, block: Uint8Array): SharedBlock {
  const len = block.length;
  const head = wsFrameHeaderLength(len);
  const frame = Buffer.allocUnsafe(head + len);
  frame[0] = 0x82; // FIN | opcode 2 (binary)
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
  frame.set(block, head);
  return new SharedBlock(seq, offset, frame, head);
}
