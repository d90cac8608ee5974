/**
 * A stored block as every listener gets it: ONE buffer per block holding a WebSocket frame
 * header (RFC 6455 §5.2: FIN + binary opcode, server frames are unmasked) followed by the block's
 * bytes. WebSocket listeners write `frame` as it is; HTTP listeners write `bytes`, a view of the
 * same memory. So the framing is built once per block, and no listener gets a copy.
 */
export interface SharedBlock {
  seq: number;
  /** Byte offset of the block in the media file. */
  offset: number;
  /** Header + ciphertext, exactly the stored bytes (a view into `frame`). */
  bytes: Buffer;
  /** The complete WebSocket binary frame carrying `bytes`. */
  frame: Buffer;
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
  return { seq, offset, bytes: frame.subarray(head), frame };
}
