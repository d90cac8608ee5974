/**
 * Counts the blocks of a relay WebSocket listener (RFC 6455 §5.2 framing, server → client,
 * so unmasked): each binary message is one whole MSC4016 block whose seq is the big-endian
 * u32 at payload bytes 4–7. Only those four bytes are read; the rest is skipped by length.
 * Pings are handed back so the listener can answer them; close ends the stream.
 */
export interface WsFrameEvents {
  onBlock(seq: number): void;
  onPing(payload: Uint8Array): void;
  onText(text: string): void;
  onClose(): void;
}

const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;

export class WsFrameReader {
  readonly #events: WsFrameEvents;
  readonly #head = new Uint8Array(14);
  #headLen = 0;
  #headNeed = 2;
  #inPayload = false;
  #opcode = 0;
  #remaining = 0;
  #seen = 0;
  #seq = 0;
  #control: number[] = [];

  constructor(events: WsFrameEvents) {
    this.#events = events;
  }

  push(chunk: Uint8Array, start: number, end: number): void {
    let i = start;
    while (i < end) {
      if (!this.#inPayload) {
        this.#head[this.#headLen++] = chunk[i++] as number;
        if (this.#headLen === 2) {
          const len7 = (this.#head[1] as number) & 0x7f;
          const masked = ((this.#head[1] as number) & 0x80) !== 0;
          this.#headNeed = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
        }
        if (this.#headLen === this.#headNeed) this.#startPayload();
        continue;
      }
      const n = Math.min(this.#remaining, end - i);
      if (this.#opcode === OP_BINARY && this.#seen < 8) {
        for (let k = Math.max(this.#seen, 4); k < Math.min(this.#seen + n, 8); k++) {
          this.#seq = this.#seq * 256 + (chunk[i + k - this.#seen] as number);
        }
      } else if (this.#opcode >= OP_CLOSE || this.#opcode === OP_TEXT) {
        for (let k = 0; k < n && this.#control.length < 4096; k++) {
          this.#control.push(chunk[i + k] as number);
        }
      }
      this.#seen += n;
      this.#remaining -= n;
      i += n;
      if (this.#remaining === 0) this.#endMessage();
    }
  }

  #startPayload(): void {
    const h = this.#head;
    this.#opcode = (h[0] as number) & 0x0f;
    const len7 = (h[1] as number) & 0x7f;
    if (len7 === 126) this.#remaining = ((h[2] as number) << 8) | (h[3] as number);
    else if (len7 === 127) {
      this.#remaining = 0;
      for (let k = 2; k < 10; k++) this.#remaining = this.#remaining * 256 + (h[k] as number);
    } else this.#remaining = len7;
    this.#inPayload = true;
    this.#seen = 0;
    this.#seq = 0;
    this.#control = [];
    this.#headLen = 0;
    this.#headNeed = 2;
    if (this.#remaining === 0) this.#endMessage();
  }

  #endMessage(): void {
    this.#inPayload = false;
    if (this.#opcode === OP_BINARY && this.#seen >= 8) this.#events.onBlock(this.#seq);
    else if (this.#opcode === OP_PING) this.#events.onPing(Uint8Array.from(this.#control));
    else if (this.#opcode === OP_TEXT) {
      this.#events.onText(Buffer.from(this.#control).toString('utf8'));
    } else if (this.#opcode === OP_CLOSE) this.#events.onClose();
  }
}

/** A masked (RFC 6455 §5.3: clients must mask) pong frame echoing `payload` (≤ 125 bytes). */
export function pongFrame(payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(6 + payload.length);
  frame[0] = 0x8a;
  frame[1] = 0x80 | payload.length;
  frame.set(payload, 6); // mask key 0: XOR with zero leaves the payload as it is
  return frame;
}
