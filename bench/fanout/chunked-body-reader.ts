/**
 * Decodes an HTTP/1.1 chunked body (RFC 9112 §7.1) as it streams in, handing on the data
 * bytes as ranges of the chunk pushed (no copy) and reporting the last chunk.
 */
export class ChunkedBodyError extends Error {
  readonly code = 'BAD_CHUNK' as const;
}

const enum State {
  Size,
  Extension,
  Data,
  DataEnd,
  Done,
}

export class ChunkedBodyReader {
  #state = State.Size;
  #size = 0;
  #digits = 0;
  #remaining = 0;
  readonly #onData: (chunk: Uint8Array, start: number, end: number) => void;
  readonly #onEnd: () => void;

  constructor(onData: (chunk: Uint8Array, start: number, end: number) => void, onEnd: () => void) {
    this.#onData = onData;
    this.#onEnd = onEnd;
  }

  push(chunk: Uint8Array, start: number, end: number): void {
    let i = start;
    while (i < end && this.#state !== State.Done) {
      if (this.#state === State.Data) {
        const n = Math.min(this.#remaining, end - i);
        this.#onData(chunk, i, i + n);
        this.#remaining -= n;
        i += n;
        if (this.#remaining === 0) this.#state = State.DataEnd;
        continue;
      }
      const b = chunk[i++] as number;
      if (this.#state === State.DataEnd) {
        if (b === 0x0a) this.#state = State.Size;
        else if (b !== 0x0d)
          throw new ChunkedBodyError(`byte 0x${b.toString(16)} after chunk data`);
      } else if (this.#state === State.Size) {
        const v = hexValue(b);
        if (v >= 0) {
          if (++this.#digits > 8) throw new ChunkedBodyError('chunk size longer than 8 hex digits');
          this.#size = this.#size * 16 + v;
        } else if (b === 0x0a) this.#endSizeLine();
        else if (b === 0x3b || b === 0x20 || b === 0x09) this.#state = State.Extension;
        else if (b !== 0x0d) throw new ChunkedBodyError(`byte 0x${b.toString(16)} in chunk size`);
      } else if (b === 0x0a) this.#endSizeLine();
    }
  }

  #endSizeLine(): void {
    if (this.#digits === 0) throw new ChunkedBodyError('empty chunk size');
    if (this.#size === 0) {
      this.#state = State.Done;
      this.#onEnd();
      return;
    }
    this.#remaining = this.#size;
    this.#size = 0;
    this.#digits = 0;
    this.#state = State.Data;
  }
}

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  return -1;
}
