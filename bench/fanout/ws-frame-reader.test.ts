import { describe, expect, it } from 'vitest';
import { concat, feedPieces, splits } from './split-feed.ts';
import { WsFrameReader, pongFrame } from './ws-frame-reader.ts';

function frame(opcode: number, payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const head =
    n < 126
      ? Uint8Array.of(0x80 | opcode, n)
      : n < 65536
        ? Uint8Array.of(0x80 | opcode, 126, n >> 8, n & 0xff)
        : Uint8Array.of(
            0x80 | opcode,
            127,
            0,
            0,
            0,
            0,
            (n >>> 24) & 0xff,
            (n >> 16) & 0xff,
            (n >> 8) & 0xff,
            n & 0xff,
          );
  return concat(head, payload);
}

function block(seq: number, length: number): Uint8Array {
  const b = new Uint8Array(length).fill(0xab);
  new DataView(b.buffer).setUint32(0, 0xffffffff);
  new DataView(b.buffer).setUint32(4, seq);
  return b;
}

function read(pieces: Uint8Array[]) {
  const seen = { seqs: [] as number[], pings: [] as number[][], texts: [] as string[], closes: 0 };
  const reader = new WsFrameReader({
    onBlock: (s) => seen.seqs.push(s),
    onPing: (p) => seen.pings.push([...p]),
    onText: (t) => seen.texts.push(t),
    onClose: () => seen.closes++,
  });
  feedPieces(pieces, reader);
  return seen;
}

describe('WsFrameReader', () => {
  const stream = concat(
    frame(0x1, new TextEncoder().encode('{"type":"status","listeners":3}')),
    frame(0x2, block(7, 140)),
    frame(0x9, Uint8Array.of(1, 2, 3)),
    frame(0x2, block(0x01020304, 1031)),
    frame(0x2, block(0xfffffffe, 200)),
    frame(0x1, new TextEncoder().encode('{"type":"skipped","to_seq":9}')),
    frame(0x8, Uint8Array.of(0x03, 0xe8)),
  );

  it('reports each binary message by the seq in its block header, wherever reads split it', () => {
    for (const pieces of splits(stream)) {
      const seen = read(pieces);
      expect(seen.seqs).toEqual([7, 0x01020304, 0xfffffffe]);
      expect(seen.pings).toEqual([[1, 2, 3]]);
      expect(seen.texts).toEqual([
        '{"type":"status","listeners":3}',
        '{"type":"skipped","to_seq":9}',
      ]);
      expect(seen.closes).toBe(1);
    }
  });

  it('reads 16- and 64-bit payload lengths', () => {
    const big = frame(0x2, block(99, 70_000));
    const mid = frame(0x2, block(98, 1031));
    expect(
      read([big.subarray(0, 5), big.subarray(5, 40_000), big.subarray(40_000), mid]).seqs,
    ).toEqual([99, 98]);
  });

  it('does not report a binary message until its last byte has arrived', () => {
    const f = frame(0x2, block(5, 140));
    expect(read([f.subarray(0, f.length - 1)]).seqs).toEqual([]);
    expect(read([f]).seqs).toEqual([5]);
  });

  it('answers pings with a masked pong carrying the same payload', () => {
    const pong = pongFrame(Uint8Array.of(9, 8));
    expect([...pong]).toEqual([0x8a, 0x82, 0, 0, 0, 0, 9, 8]);
  });
});
