import { describe, expect, it } from 'vitest';
import { ChunkedBodyError, ChunkedBodyReader } from './chunked-body-reader.ts';
import { feedPieces, splits } from './split-feed.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function decode(pieces: Uint8Array[]): { data: string; ends: number } {
  let data = '';
  let ends = 0;
  const reader = new ChunkedBodyReader(
    (c, s, e) => (data += new TextDecoder().decode(c.subarray(s, e))),
    () => ends++,
  );
  feedPieces(pieces, reader);
  return { data, ends };
}

describe('ChunkedBodyReader', () => {
  const body = enc('a\r\n0123456789\r\n3;name=value\r\nabc\r\nF \r\nfifteen bytes!!\r\n0\r\n\r\n');

  it('hands on exactly the chunk data and reports the last chunk once, wherever reads split', () => {
    for (const pieces of splits(body)) {
      expect(decode(pieces)).toEqual({ data: '0123456789abcfifteen bytes!!', ends: 1 });
    }
  });

  it('reports nothing as ended while the body is still open', () => {
    expect(decode([enc('4\r\nabcd\r\n4\r\nef')])).toEqual({ data: 'abcdef', ends: 0 });
  });

  it.each([
    ['a size that is not hex', 'zz\r\n'],
    ['an empty size line', '\r\n'],
    ['data longer than its size', '2\r\nabc\r\n'],
    ['a size past 8 hex digits', '123456789\r\n'],
  ])('refuses %s with BAD_CHUNK', (_what, text) => {
    expect(() => decode([enc(text)])).toThrow(ChunkedBodyError);
    try {
      decode([enc(text)]);
    } catch (err) {
      expect((err as ChunkedBodyError).code).toBe('BAD_CHUNK');
    }
  });
});
