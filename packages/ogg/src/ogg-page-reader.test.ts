import { describe, expect, it } from 'vitest';
import { isOggError } from './ogg-error.ts';
import { OggFlag, type OggPage, writeOggPage } from './ogg-page.ts';
import { OggPageReader, type ReadOggPage } from './ogg-page-reader.ts';

function bytes(n: number, seed: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * 13 + seed) & 0xff);
}

const PAGES: OggPage[] = [
  { flags: OggFlag.BOS, granule: 0n, serial: 9, pageSeq: 0, packets: [bytes(19, 1)] },
  { flags: 0, granule: 0n, serial: 9, pageSeq: 1, packets: [bytes(40, 2)] },
  { flags: 0, granule: 1920n, serial: 9, pageSeq: 2, packets: [bytes(320, 3), bytes(320, 4)] },
  { flags: 0, granule: -1n, serial: 9, pageSeq: 3, packets: [bytes(510, 5)], incomplete: true },
  {
    flags: OggFlag.CONTINUED | OggFlag.EOS,
    granule: 2880n,
    serial: 9,
    pageSeq: 4,
    packets: [bytes(7, 6), bytes(0, 0)],
  },
];
const ENCODED = PAGES.map((p) => writeOggPage(p));
// Node's Buffer.concat (this package depends on no other; the Uint8Array keeps equality plain).
const concat = (parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));
const STREAM = concat(ENCODED);

/** Hex strings compare far faster than arrays of numbers in the every-split loops. */
function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function summary(pages: ReadOggPage[]): unknown[] {
  return pages.map((p) => ({
    offset: p.offset,
    seq: p.pageSeq,
    granule: p.granule,
    flags: p.flags,
    bytes: hex(p.bytes),
    packets: p.packets.map(hex),
  }));
}

const EXPECTED = (() => {
  let offset = 0;
  return ENCODED.map((b, i) => {
    const page = PAGES[i] as OggPage;
    const r = {
      offset,
      seq: page.pageSeq,
      granule: page.granule,
      flags: page.flags,
      bytes: hex(b),
      packets: page.packets.map(hex),
    };
    offset += b.length;
    return r;
  });
})();

describe('OggPageReader', () => {
  it('reads the same pages whatever byte the input is split at', () => {
    for (let cut = 0; cut <= STREAM.length; cut++) {
      const reader = new OggPageReader({ checkPageSeq: true, serial: 9 });
      const pages = [...reader.push(STREAM.subarray(0, cut)), ...reader.push(STREAM.subarray(cut))];
      reader.finish();
      expect(summary(pages)).toEqual(EXPECTED);
    }
  });

  it('reads the same pages fed one byte at a time, and in three pieces', () => {
    const reader = new OggPageReader();
    const pages: ReadOggPage[] = [];
    for (let i = 0; i < STREAM.length; i++) pages.push(...reader.push(STREAM.subarray(i, i + 1)));
    expect(summary(pages)).toEqual(EXPECTED);
    for (let a = 0; a < STREAM.length; a += 37) {
      for (let b = a; b <= STREAM.length; b += 53) {
        const r = new OggPageReader();
        const got = [
          ...r.push(STREAM.subarray(0, a)),
          ...r.push(STREAM.subarray(a, b)),
          ...r.push(STREAM.subarray(b)),
        ];
        expect(summary(got)).toEqual(EXPECTED);
      }
    }
  });

  it('slices pages that lie inside one chunk without copying', () => {
    const reader = new OggPageReader();
    const pages = reader.push(STREAM);
    for (const p of pages) {
      expect(p.bytes.buffer).toBe(STREAM.buffer);
      for (const packet of p.packets) expect(packet.buffer).toBe(STREAM.buffer);
    }
  });

  it('throws TRUNCATED from finish() when a page is cut off', () => {
    const reader = new OggPageReader();
    expect(reader.push(STREAM.subarray(0, STREAM.length - 1))).toHaveLength(PAGES.length - 1);
    expect(reader.buffered).toBe((ENCODED[4] as Uint8Array).length - 1);
    expect(() => reader.finish()).toThrow(/ended \d+ bytes into a page starting at byte \d+/);
  });

  it('throws on garbage with its code and offset, unless told to resync', () => {
    const junk = concat([
      ENCODED[0] as Uint8Array,
      new TextEncoder().encode('xxOgxOggSjunk'),
      ENCODED[1] as Uint8Array,
    ]);
    try {
      new OggPageReader().push(junk);
      expect.unreachable();
    } catch (err) {
      expect(isOggError(err, 'BAD_CAPTURE_PATTERN')).toBe(true);
      expect((err as { offset: number }).offset).toBe((ENCODED[0] as Uint8Array).length);
    }
    for (let cut = 0; cut <= junk.length; cut++) {
      const reader = new OggPageReader({ resync: true });
      const pages = [...reader.push(junk.subarray(0, cut)), ...reader.push(junk.subarray(cut))];
      expect(pages.map((p) => p.pageSeq)).toEqual([0, 1]);
      expect(reader.skippedBytes).toBe(13);
    }
  });

  it('resyncs past a page with a bad CRC, within maxResyncBytes', () => {
    const broken = (ENCODED[2] as Uint8Array).slice();
    broken[40] = (broken[40] as number) ^ 0x55;
    const stream = concat([ENCODED[0] as Uint8Array, broken, ENCODED[3] as Uint8Array]);
    const pages = new OggPageReader({ resync: true }).push(stream);
    expect(pages.map((p) => p.pageSeq)).toEqual([0, 3]);
    expect(() => new OggPageReader({ resync: true, maxResyncBytes: 100 }).push(stream)).toThrow(
      /without finding a valid page; the limit is 100/,
    );
    expect(() => new OggPageReader().push(stream)).toThrow(/CRC/);
  });

  it('enforces its options: serial, page sequence, body size', () => {
    expect(() => new OggPageReader({ serial: 10 }).push(STREAM)).toThrow(/serial 9; expected 10/);
    const gap = concat([ENCODED[0] as Uint8Array, ENCODED[2] as Uint8Array]);
    expect(() => new OggPageReader({ checkPageSeq: true }).push(gap)).toThrow(
      /sequence 2; expected 1/,
    );
    expect(new OggPageReader().push(gap)).toHaveLength(2);
    expect(() => new OggPageReader({ maxPageBodySize: 100 }).push(STREAM)).toThrow(
      expect.objectContaining({ code: 'PAGE_TOO_LARGE' }),
    );
  });

  it('reports offsets from startOffset', () => {
    const pages = new OggPageReader({ startOffset: 1000 }).push(STREAM);
    expect(pages[0]?.offset).toBe(1000);
    expect(pages[1]?.offset).toBe(1000 + (ENCODED[0] as Uint8Array).length);
  });
});
