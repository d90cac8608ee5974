import { OggFlag, writeOggPage } from '@mxcast/ogg';
import { describe, expect, it } from 'vitest';
import { OggPageTracker, OggStreamError } from './ogg-page-tracker.ts';
import { concat, feedPieces, splits } from './split-feed.ts';

function page(pageSeq: number, packets: number[]): Uint8Array {
  return writeOggPage({
    flags: pageSeq === 0 ? OggFlag.BOS : 0,
    granule: pageSeq === 2 ? -1n : BigInt(pageSeq) * 960n,
    serial: 42,
    pageSeq,
    packets: packets.map((n) => new Uint8Array(n).fill(pageSeq)),
  });
}

function track(pieces: Uint8Array[]): number[] {
  const seqs: number[] = [];
  const tracker = new OggPageTracker((s) => seqs.push(s));
  feedPieces(pieces, tracker);
  return seqs;
}

describe('OggPageTracker', () => {
  // Lacing with a 255-byte segment, a page without packets and a 0x01020304 page number.
  const stream = concat(
    page(0, [19]),
    page(1, [300, 80]),
    page(2, []),
    page(0x01020304, [80, 80, 80]),
  );

  it('reports every page by its sequence number once its last byte is in, wherever reads split', () => {
    for (const pieces of splits(stream)) expect(track(pieces)).toEqual([0, 1, 2, 0x01020304]);
  });

  it('reports the granule position (64-bit, -1 for a page that completes no packet)', () => {
    for (const pieces of splits(stream)) {
      const granules: bigint[] = [];
      const tracker = new OggPageTracker((_s, g) => granules.push(g));
      feedPieces(pieces, tracker);
      expect(granules).toEqual([0n, 960n, -1n, 0x01020304n * 960n]);
    }
  });

  it('waits for the last byte of a page', () => {
    const p = page(5, [80]);
    expect(track([p.subarray(0, p.length - 1)])).toEqual([]);
  });

  it('refuses bytes that are not an Ogg page with BAD_OGG_PAGE', () => {
    const bad = new TextEncoder().encode('<html>not ogg</html>');
    expect(() => track([bad])).toThrow(OggStreamError);
    expect(() => track([bad])).toThrow(/OggS/);
  });
});
