/**
 * Minimal ISO BMFF (ISO/IEC 14496-12) box serialisation: a box is a 32-bit size, a four-char
 * type and a payload; a "full box" adds a version byte and 24 bits of flags. Enough to write
 * the handful of boxes an fMP4 audio stream needs (opus-fmp4.ts).
 */
import { concatBytes } from '@mxcast/format';

export type BoxPart = Uint8Array | BoxPart[];

/** A growable big-endian byte sink for one box payload. */
export class ByteSink {
  #bytes = new Uint8Array(64);
  #view = new DataView(this.#bytes.buffer);
  #length = 0;

  #reserve(n: number): number {
    const at = this.#length;
    if (at + n > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(this.#bytes.length * 2, at + n));
      grown.set(this.#bytes.subarray(0, at));
      this.#bytes = grown;
      this.#view = new DataView(grown.buffer);
    }
    this.#length += n;
    return at;
  }

  /** Reserves `n` bytes, then writes them: reserve first, as it may replace the view. */
  #put(n: number, write: (view: DataView, at: number) => void): this {
    const at = this.#reserve(n);
    write(this.#view, at);
    return this;
  }

  u8(v: number): this {
    return this.#put(1, (view, at) => view.setUint8(at, v));
  }
  u16(v: number): this {
    return this.#put(2, (view, at) => view.setUint16(at, v));
  }
  i16(v: number): this {
    return this.#put(2, (view, at) => view.setInt16(at, v));
  }
  u24(v: number): this {
    return this.#put(3, (view, at) => {
      view.setUint8(at, (v >>> 16) & 0xff);
      view.setUint16(at + 1, v & 0xffff);
    });
  }
  u32(v: number): this {
    return this.#put(4, (view, at) => view.setUint32(at, v >>> 0));
  }
  u64(v: bigint): this {
    return this.#put(8, (view, at) => view.setBigUint64(at, v));
  }
  zeros(n: number): this {
    this.#reserve(n); // a fresh or grown buffer is zero-filled past the old length
    this.#bytes.fill(0, this.#length - n, this.#length);
    return this;
  }
  ascii(text: string): this {
    for (let i = 0; i < text.length; i++) this.u8(text.charCodeAt(i));
    return this;
  }
  bytes(b: Uint8Array): this {
    this.#bytes.set(b, this.#reserve(b.length));
    return this;
  }
  done(): Uint8Array {
    return this.#bytes.slice(0, this.#length);
  }
}

function flatten(parts: BoxPart[], out: Uint8Array[] = []): Uint8Array[] {
  for (const p of parts) {
    if (p instanceof Uint8Array) out.push(p);
    else flatten(p, out);
  }
  return out;
}

export function concat(parts: BoxPart[]): Uint8Array {
  return concatBytes(flatten(parts));
}

/** `size(4) type(4) payload` (ISO/IEC 14496-12 §4.2). */
export function box(type: string, ...payload: BoxPart[]): Uint8Array {
  if (type.length !== 4) throw new Error(`box type must be four characters, got '${type}'`);
  const body = concat(payload);
  const head = new ByteSink()
    .u32(8 + body.length)
    .ascii(type)
    .done();
  return concat([head, body]);
}

/** A FullBox: `version(1) flags(3)` before the payload. */
export function fullBox(
  type: string,
  version: number,
  flags: number,
  ...payload: BoxPart[]
): Uint8Array {
  return box(type, new ByteSink().u8(version).u24(flags).done(), ...payload);
}
