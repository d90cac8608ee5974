import { describe, expect, it } from 'vitest';
import { OggFlag, parseOggPage, writeOggPage } from './ogg-page.ts';
import { OggOpusPager } from './ogg-opus-pager.ts';
import { granuleToSeconds, parseOpusPage } from './opus-page.ts';
import { findOpusTag } from './opus-tags.ts';

/** A fake 20 ms CELT packet of `n` bytes (TOC config 31, code 0). */
const packet = (n: number): Uint8Array => new Uint8Array(n).fill(7).fill(0xf8, 0, 1);

describe('OggOpusPager', () => {
  it('writes OpusHead (BOS, page 0) and OpusTags (page 1) with granule 0', () => {
    const pager = new OggOpusPager({
      serial: 77,
      channels: 2,
      preSkip: 312,
      title: 'Morning show',
      vendor: 'test',
    });
    const head = parseOpusPage(pager.headPage());
    expect(head.kind).toBe('head');
    if (head.kind !== 'head') return;
    expect(head.page.flags).toBe(OggFlag.BOS);
    expect(head.page.pageSeq).toBe(0);
    expect(head.page.granule).toBe(0n);
    expect(head.head).toMatchObject({ channels: 2, preSkip: 312, inputSampleRate: 48000 });
    const tags = parseOpusPage(pager.tagsPage());
    expect(tags.kind).toBe('tags');
    if (tags.kind !== 'tags') return;
    expect(tags.page.pageSeq).toBe(1);
    expect(tags.page.granule).toBe(0n);
    expect(tags.tags.vendor).toBe('test');
    expect(findOpusTag(tags.tags, 'TITLE')).toBe('Morning show');
  });

  it('sets granules to samples so far, pre-skip included, and EOS with an end trim on the last page', () => {
    const pager = new OggOpusPager({ serial: 1, channels: 1, preSkip: 312 });
    const sizes: number[] = [];
    const granules: bigint[] = [];
    for (let i = 0; i < 4; i++) {
      const b = pager.audioPage(Array.from({ length: 12 }, () => packet(80)));
      sizes.push(b.length);
      const p = parseOpusPage(b);
      if (p.kind !== 'audio') throw new Error('not audio');
      granules.push(p.granule);
      expect(p.pageSeq).toBe(2 + i);
      expect(p.samples).toBe(12 * 960);
      expect(p.eos).toBe(false);
      expect(p.packets).toHaveLength(12);
    }
    expect(granules).toEqual([11520n, 23040n, 34560n, 46080n]);
    expect(new Set(sizes)).toEqual(new Set([27 + 12 + 960]));
    const last = parseOpusPage(
      pager.audioPage([packet(80), packet(80)], { eos: true, endTrim: 500 }),
    );
    if (last.kind !== 'audio') throw new Error('not audio');
    expect(last.eos).toBe(true);
    expect(last.granule).toBe(46080n + 1920n - 500n);
    expect(pager.isEnded).toBe(true);
    expect(() => pager.audioPage([packet(80)])).toThrow(/already ended/);
  });

  it('writes an empty EOS page with granule -1 (no packet completes on it)', () => {
    const pager = new OggOpusPager({ serial: 1, channels: 1, preSkip: 312 });
    pager.audioPage([packet(80), packet(80)]);
    const last = parseOpusPage(pager.audioPage([], { eos: true }));
    if (last.kind !== 'audio') throw new Error('not audio');
    expect(last).toMatchObject({ eos: true, granule: -1n, samples: 0, packets: [] });
    expect(pager.granule).toBe(1920n);
    expect(pager.isEnded).toBe(true);
  });

  it('keeps every packet whole: a page never ends in a 255 lacing value', () => {
    const pager = new OggOpusPager({ serial: 1, channels: 2, preSkip: 312 });
    const page = parseOggPage(pager.audioPage([packet(255), packet(510), packet(320)]));
    expect(page.incomplete).toBeUndefined();
    expect(page.packets.map((p) => p.length)).toEqual([255, 510, 320]);
    expect(() => pager.audioPage(Array.from({ length: 100 }, () => packet(600)))).toThrow(
      /lacing values/,
    );
  });

  it('continues a stream from startPageSeq and startGranule (resume)', () => {
    const pager = new OggOpusPager({
      serial: 5,
      channels: 1,
      preSkip: 312,
      startPageSeq: 40,
      startGranule: 960n * 100n,
    });
    const p = parseOpusPage(pager.audioPage([packet(80)]));
    expect(p.page.pageSeq).toBe(40);
    expect(p.page.granule).toBe(960n * 101n);
    expect(pager.nextPageSeq).toBe(41);
    expect(pager.granule).toBe(960n * 101n);
  });

  it('rejects bad arguments: empty non-EOS page, trims off EOS or too large', () => {
    const pager = new OggOpusPager({ serial: 1, channels: 1, preSkip: 312 });
    expect(() => pager.audioPage([])).toThrow(/at least one packet/);
    expect(() => pager.audioPage([packet(80)], { endTrim: 10 })).toThrow(/only on the EOS page/);
    expect(() => pager.audioPage([packet(80)], { eos: true, endTrim: 960 })).toThrow(
      /under the page's 960/,
    );
    expect(() => new OggOpusPager({ serial: 2 ** 32, channels: 1, preSkip: 0 })).toThrow(/serial/);
  });
});

describe('parseOpusPage', () => {
  const page = (flags: number, pageSeq: number, packets: Uint8Array[]): Uint8Array =>
    writeOggPage({ flags, granule: 0n, serial: 1, pageSeq, packets });
  const head = new OggOpusPager({ serial: 1, channels: 1, preSkip: 312 });

  it('names what is wrong with header pages and audio packets', () => {
    expect(() => parseOpusPage(page(OggFlag.BOS, 0, [packet(19)]))).toThrow(
      expect.objectContaining({
        code: 'BAD_OPUS_HEAD',
        message: expect.stringMatching(/does not hold an OpusHead/),
      }),
    );
    const headPacket = parseOggPage(head.headPage()).packets[0] as Uint8Array;
    expect(() => parseOpusPage(page(OggFlag.BOS, 0, [headPacket, packet(80)]))).toThrow(
      /that one packet alone/,
    );
    expect(() => parseOpusPage(page(0, 5, [new Uint8Array(0)]))).toThrow(
      expect.objectContaining({ code: 'BAD_OPUS_PACKET' }),
    );
    const tags = parseOggPage(head.tagsPage()).packets[0] as Uint8Array;
    expect(() => parseOpusPage(page(0, 1, [tags.subarray(0, 14)]))).toThrow(
      expect.objectContaining({ code: 'BAD_OPUS_TAGS' }),
    );
  });

  it('counts samples of continued/incomplete pages only over whole packets', () => {
    const b = writeOggPage({
      flags: OggFlag.CONTINUED,
      granule: 5000n,
      serial: 1,
      pageSeq: 7,
      packets: [new Uint8Array(10), packet(80), new Uint8Array(255)],
      incomplete: true,
    });
    const p = parseOpusPage(b);
    expect(p).toMatchObject({ kind: 'audio', samples: 960, continued: true, incomplete: true });
  });

  it('converts granules to playback seconds after pre-skip', () => {
    expect(granuleToSeconds(312n + 48000n, 312)).toBe(1);
    expect(granuleToSeconds(312n, 312)).toBe(0);
  });
});
