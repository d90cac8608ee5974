import { describe, expect, it } from 'vitest';
import { isOggError } from './ogg-error.ts';
import { OggFlag, type OggPage, parseOggPage, writeOggPage } from './ogg-page.ts';

function bytes(n: number, seed: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);
}

export const SAMPLE_PAGES: OggPage[] = [
  { flags: OggFlag.BOS, granule: 0n, serial: 0x12345678, pageSeq: 0, packets: [bytes(19, 1)] },
  {
    flags: 0,
    granule: 123456789012n,
    serial: 7,
    pageSeq: 5,
    packets: [bytes(80, 2), bytes(80, 3), bytes(80, 4)],
  },
  {
    flags: OggFlag.EOS,
    granule: 2n ** 40n,
    serial: 0xffffffff,
    pageSeq: 0xfffffffe,
    packets: [bytes(320, 5)],
  },
  { flags: 0, granule: -1n, serial: 1, pageSeq: 9, packets: [bytes(255 * 3, 6)], incomplete: true },
  {
    flags: OggFlag.CONTINUED,
    granule: 960n,
    serial: 1,
    pageSeq: 10,
    packets: [bytes(255, 7), bytes(0, 0), bytes(510, 8)],
  },
  { flags: OggFlag.EOS, granule: 42n, serial: 3, pageSeq: 3, packets: [] },
];

function strip(p: OggPage): OggPage {
  return { ...p, packets: p.packets.map((x) => Uint8Array.from(x)) };
}

describe('writeOggPage / parseOggPage', () => {
  it('round-trips pages with every kind of lacing', () => {
    for (const page of SAMPLE_PAGES) {
      const b = writeOggPage(page);
      const parsed = parseOggPage(b);
      expect(parsed.flags).toBe(page.flags);
      expect(parsed.granule).toBe(page.granule);
      expect(parsed.serial).toBe(page.serial);
      expect(parsed.pageSeq).toBe(page.pageSeq);
      expect(parsed.incomplete === true).toBe(page.incomplete === true);
      expect(parsed.packets.map((x) => Uint8Array.from(x))).toEqual(strip(page).packets);
      expect(writeOggPage(parsed)).toEqual(b);
    }
  });

  it('lays out the header as RFC 3533 §6 says', () => {
    const b = writeOggPage({
      flags: OggFlag.EOS,
      granule: 0x0102030405n,
      serial: 0xa0b0c0d0,
      pageSeq: 3,
      packets: [bytes(300, 1)],
    });
    expect(Array.from(b.subarray(0, 6))).toEqual([0x4f, 0x67, 0x67, 0x53, 0, 4]);
    expect(Array.from(b.subarray(6, 14))).toEqual([5, 4, 3, 2, 1, 0, 0, 0]);
    expect(Array.from(b.subarray(14, 18))).toEqual([0xd0, 0xc0, 0xb0, 0xa0]);
    expect(Array.from(b.subarray(26, 29))).toEqual([2, 255, 45]);
    expect(b.length).toBe(27 + 2 + 300);
  });

  it('returns views into the input, not copies', () => {
    const b = writeOggPage(SAMPLE_PAGES[1] as OggPage);
    const p = parseOggPage(b);
    expect(p.packets[0]?.buffer).toBe(b.buffer);
    expect(p.bytes.buffer).toBe(b.buffer);
  });

  it('rejects a bad capture pattern, version, CRC, truncation and trailing bytes with their codes', () => {
    const good = writeOggPage(SAMPLE_PAGES[1] as OggPage);
    const expectCode = (input: Uint8Array, code: string, text: RegExp): void => {
      try {
        parseOggPage(input);
        expect.unreachable();
      } catch (err) {
        expect(isOggError(err)).toBe(true);
        expect((err as { code: string }).code).toBe(code);
        expect((err as Error).message).toMatch(text);
      }
    };
    const badMagic = good.slice();
    badMagic[1] = 0x68;
    expectCode(badMagic, 'BAD_CAPTURE_PATTERN', /byte 0.*4f686753/);
    const badVersion = good.slice();
    badVersion[4] = 1;
    expectCode(badVersion, 'BAD_VERSION', /version 1/);
    for (const at of [5, 6, 14, 18, 22, 26 + 1, good.length - 1]) {
      const flipped = good.slice();
      flipped[at] = (flipped[at] as number) ^ 0x01;
      expectCode(
        flipped,
        at === 27 ? 'TRUNCATED' : 'BAD_CRC',
        at === 27 ? /needs \d+ bytes/ : /CRC 0x/,
      );
    }
    expectCode(
      good.subarray(0, good.length - 1),
      'TRUNCATED',
      new RegExp(`needs ${good.length} bytes; got ${good.length - 1}`),
    );
    expectCode(good.subarray(0, 10), 'TRUNCATED', /at least 27/);
    const trailing = new Uint8Array(good.length + 3);
    trailing.set(good);
    expectCode(trailing, 'TRAILING_BYTES', /3 bytes follow/);
  });

  // Each row changes one field of an otherwise valid page.
  const valid: OggPage = { flags: 0, granule: 0n, serial: 1, pageSeq: 2, packets: [] };
  it.each<[string, Partial<OggPage>, RegExp]>([
    ['more than 255 lacing values', { packets: [bytes(255 * 255, 1)] }, /256 lacing values/],
    ['a negative serial', { serial: -1 }, /serial -1/],
    ['an unknown header_type bit', { flags: 8 }, /header_type 8/],
    [
      'an incomplete last packet that is not a multiple of 255',
      { packets: [bytes(100, 1)], incomplete: true },
      /100 bytes/,
    ],
  ])('refuses a page with %s', (_what, change, message) => {
    expect(() => writeOggPage({ ...valid, ...change })).toThrow(message);
  });

  it('accepts the largest page RFC 3533 allows, and the verifyCrc: false option', () => {
    const big = writeOggPage({
      flags: 0,
      granule: -1n,
      serial: 1,
      pageSeq: 2,
      packets: [bytes(255 * 255, 1)],
      incomplete: true,
    });
    expect(big.length).toBe(27 + 255 + 255 * 255);
    expect(parseOggPage(big).packets.map((p) => p.length)).toEqual([255 * 255]);
    const corrupt = big.slice();
    corrupt[1000] = (corrupt[1000] as number) ^ 0xff;
    expect(() => parseOggPage(corrupt)).toThrow(/CRC/);
    expect(parseOggPage(corrupt, { verifyCrc: false }).packets[0]?.[1000 - 27 - 255]).toBe(
      corrupt[1000],
    );
    expect(() => parseOggPage(big, { maxPageBodySize: 1000 })).toThrow(/body; the limit is 1000/);
  });
});
