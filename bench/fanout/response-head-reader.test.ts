import { describe, expect, it } from 'vitest';
import { ResponseHeadError, ResponseHeadReader } from './response-head-reader.ts';
import { inBuffer, splits } from './split-feed.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function readHead(pieces: Uint8Array[]) {
  const reader = new ResponseHeadReader();
  for (const piece of pieces) {
    const { buf, start, end } = inBuffer(piece);
    const head = reader.push(buf, start, end);
    if (head) return { ...head, body: new TextDecoder().decode(buf.subarray(head.bodyStart, end)) };
  }
  return null;
}

describe('ResponseHeadReader', () => {
  const response = enc(
    'HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 178-*/*\r\nTransfer-Encoding: chunked\r\n\r\n8c\r\n',
  );

  it('finds status, headers and the start of the body, wherever reads split', () => {
    for (const pieces of splits(response)) {
      const head = readHead(pieces);
      expect(head?.status).toBe(206);
      expect(head?.headers.get('content-range')).toBe('bytes 178-*/*');
      expect(head?.headers.get('transfer-encoding')).toBe('chunked');
      // The body bytes in the piece that completed the head: a prefix of the body.
      expect('8c\r\n'.startsWith(head?.body ?? 'x')).toBe(true);
    }
  });

  it('needs more bytes before the blank line', () => {
    expect(readHead([enc('HTTP/1.0 200 OK\r\nServer: x\r\n')])).toBeNull();
  });

  it('refuses a bad status line and an endless head', () => {
    expect(() => readHead([enc('ICY 200 OK\r\n\r\n')])).toThrow(ResponseHeadError);
    const endless = new ResponseHeadReader(64);
    const { buf, start, end } = inBuffer(enc(`HTTP/1.1 200 OK\r\nX: ${'y'.repeat(100)}`));
    expect(() => endless.push(buf, start, end)).toThrow(/longer than 64 bytes/);
  });
});
