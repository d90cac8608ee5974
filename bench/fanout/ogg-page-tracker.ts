/**
 * Reports each Ogg page (RFC 3533 §6) of an Icecast listener's stream as its last byte
 * arrives, by page sequence number and granule position (the join bench measures how far
 * behind live a burst starts from it). Only the 27-byte header and the lacing table are read;
 * the page body is skipped by length.
 */
export class OggStreamError extends Error {
  readonly code = 'BAD_OGG_PAGE' as const;
}

export class OggPageTracker {
  readonly #head = new Uint8Array(27 + 255);
  #headLen = 0;
  #headNeed = 27;
  #remaining = -1;
  #pageSeq = 0;
  #granule = 0n;
  readonly #onPage: (pageSeq: number, granule: bigint) => void;

  constructor(onPage: (pageSeq: number, granule: bigint) => void) {
    this.#onPage = onPage;
  }

  push(chunk: Uint8Array, start: number, end: number): void {
    let i = start;
    while (i < end) {
      if (this.#remaining < 0) {
        this.#head[this.#headLen++] = chunk[i++] as number;
        if (this.#headLen === 4 && !isCapturePattern(this.#head)) {
          throw new OggStreamError('page does not start with "OggS"');
        }
        if (this.#headLen === 27) this.#headNeed = 27 + (this.#head[26] as number);
        if (this.#headLen === this.#headNeed) this.#startBody();
        continue;
      }
      const n = Math.min(this.#remaining, end - i);
      this.#remaining -= n;
      i += n;
      if (this.#remaining === 0) this.#endPage();
    }
  }

  #startBody(): void {
    const h = this.#head;
    this.#pageSeq =
      ((h[18] as number) |
        ((h[19] as number) << 8) |
        ((h[20] as number) << 16) |
        ((h[21] as number) << 24)) >>>
      0;
    // Granule position: signed 64-bit little-endian at header bytes 6–13 (RFC 3533 §6).
    this.#granule = new DataView(h.buffer, h.byteOffset + 6, 8).getBigInt64(0, true);
    let body = 0;
    for (let k = 27; k < this.#headNeed; k++) body += h[k] as number;
    this.#remaining = body;
    this.#headLen = 0;
    this.#headNeed = 27;
    if (body === 0) this.#endPage();
  }

  #endPage(): void {
    this.#remaining = -1;
    this.#onPage(this.#pageSeq, this.#granule);
  }
}

function isCapturePattern(h: Uint8Array): boolean {
  return h[0] === 0x4f && h[1] === 0x67 && h[2] === 0x67 && h[3] === 0x53;
}
