/**
 * Reads an HTTP/1.x response head (RFC 9112 §2.1, §4) off a raw socket: the listeners use
 * raw sockets, not the http module, so that one listener costs one small object and one
 * read per arrival. Buffers until CRLF CRLF, then reports the status, the headers (lower-cased
 * names) and where the body starts in the last chunk.
 */
export interface ResponseHead {
  status: number;
  headers: Map<string, string>;
  /** Index in the chunk just pushed where the body begins. */
  bodyStart: number;
}

export class ResponseHeadError extends Error {
  readonly code = 'BAD_RESPONSE_HEAD' as const;
}

export class ResponseHeadReader {
  #text = '';
  readonly #maxBytes: number;

  constructor(maxBytes = 16 * 1024) {
    this.#maxBytes = maxBytes;
  }

  /** The head once complete, or null while more bytes are needed. */
  push(chunk: Uint8Array, start: number, end: number): ResponseHead | null {
    const before = this.#text.length;
    // latin1 keeps one char per byte, so indexes map back to the chunk.
    this.#text += Buffer.from(chunk.buffer, chunk.byteOffset + start, end - start).toString(
      'latin1',
    );
    const at = this.#text.indexOf('\r\n\r\n', Math.max(0, before - 3));
    if (at === -1) {
      if (this.#text.length > this.#maxBytes) {
        throw new ResponseHeadError(`response head longer than ${this.#maxBytes} bytes`);
      }
      return null;
    }
    const lines = this.#text.slice(0, at).split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
    if (!match) throw new ResponseHeadError(`bad status line ${JSON.stringify(lines[0])}`);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0)
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    return { status: Number(match[1]), headers, bodyStart: start + (at + 4 - before) };
  }
}
