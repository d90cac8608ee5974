/**
 * Test helper: every way of cutting a byte string into two or three pushes, so each
 * incremental reader is shown to give the same result wherever a read boundary falls.
 */
import { concatBytes } from '@mxcast/format';

export function* splits(bytes: Uint8Array): Generator<Uint8Array[]> {
  yield [bytes];
  for (let i = 1; i < bytes.length; i++) {
    yield [bytes.subarray(0, i), bytes.subarray(i)];
  }
  for (let i = 1; i < bytes.length - 1; i += 13) {
    for (let j = i + 1; j < bytes.length; j += 11) {
      yield [bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)];
    }
  }
  // one byte at a time
  yield Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
}

/** Copies a piece into a larger buffer at an offset, as a socket read into a shared buffer does. */
export function inBuffer(piece: Uint8Array): { buf: Uint8Array; start: number; end: number } {
  const buf = new Uint8Array(piece.length + 10).fill(0xee);
  buf.set(piece, 5);
  return { buf, start: 5, end: 5 + piece.length };
}

/** Pushes every piece to an incremental reader, each from inside a larger buffer (inBuffer). */
export function feedPieces(
  pieces: Uint8Array[],
  reader: { push(buf: Uint8Array, start: number, end: number): unknown },
): void {
  for (const piece of pieces) {
    const { buf, start, end } = inBuffer(piece);
    reader.push(buf, start, end);
  }
}

/** @mxcast/format's concatenation, taking the parts as arguments as the bench tests write them. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  return concatBytes(parts);
}
