import { describe, expect, it } from 'vitest';
import { encodeOpusHead, parseOpusHead } from './opus-head.ts';
import { encodeOpusTags, findOpusTag, parseOpusTags } from './opus-tags.ts';
import { opusPacketSamples } from './opus-packet.ts';

describe('OpusHead (RFC 7845 §5.1)', () => {
  it('encodes the 19-byte family-0 header and parses it back', () => {
    const b = encodeOpusHead({
      channels: 2,
      preSkip: 312,
      inputSampleRate: 44100,
      outputGain: -256,
    });
    expect(b.length).toBe(19);
    expect(new TextDecoder().decode(b.subarray(0, 8))).toBe('OpusHead');
    expect(Array.from(b.subarray(8, 12))).toEqual([1, 2, 312 & 0xff, 312 >> 8]);
    expect(parseOpusHead(b)).toEqual({
      version: 1,
      channels: 2,
      preSkip: 312,
      inputSampleRate: 44100,
      outputGain: -256,
      mappingFamily: 0,
    });
  });

  it('parses a family-1 mapping table and rejects bad headers', () => {
    const b = new Uint8Array(21 + 3);
    b.set(encodeOpusHead({ channels: 1, preSkip: 0 }));
    b[9] = 3;
    b[18] = 1;
    b.set([2, 1, 0, 2, 1], 19);
    expect(parseOpusHead(b)).toMatchObject({
      channels: 3,
      mappingFamily: 1,
      streamCount: 2,
      coupledCount: 1,
      mapping: [0, 2, 1],
    });
    const v = encodeOpusHead({ channels: 1, preSkip: 0 });
    v[8] = 0x10;
    expect(() => parseOpusHead(v)).toThrow(/version 16/);
    expect(() =>
      parseOpusHead(encodeOpusHead({ channels: 1, preSkip: 0 }).subarray(0, 18)),
    ).toThrow(/18 bytes/);
    expect(() => parseOpusHead(new TextEncoder().encode('OpusTags' + 'x'.repeat(20)))).toThrow(
      /"OpusHead"/,
    );
    expect(() => encodeOpusHead({ channels: 3, preSkip: 0 })).toThrow(/not 3/);
    expect(() => encodeOpusHead({ channels: 1, preSkip: 70000 })).toThrow(/70000/);
  });
});

describe('OpusTags (RFC 7845 §5.2)', () => {
  it('round-trips vendor and comments, UTF-8 included', () => {
    const tags = {
      vendor: 'mxcast 0.1',
      comments: [
        { key: 'TITLE', value: 'Ünïcødé — live 🎙' },
        { key: 'artist', value: 'a=b' },
      ],
    };
    const b = encodeOpusTags(tags);
    expect(parseOpusTags(b)).toEqual(tags);
    expect(findOpusTag(parseOpusTags(b), 'Title')).toBe('Ünïcødé — live 🎙');
    expect(findOpusTag(parseOpusTags(b), 'ARTIST')).toBe('a=b');
    expect(findOpusTag(parseOpusTags(b), 'ALBUM')).toBeUndefined();
  });

  it('rejects lengths past the end, absurd counts, bad UTF-8 and keys', () => {
    const b = encodeOpusTags({ vendor: 'v', comments: [{ key: 'A', value: 'b' }] });
    expect(() => parseOpusTags(b.subarray(0, b.length - 1))).toThrow(/comment 0 claims 3 bytes/);
    const count = b.slice();
    new DataView(count.buffer).setUint32(13, 0x7fffffff, true);
    expect(() => parseOpusTags(count)).toThrow(/comment count 2147483647 cannot fit/);
    const utf = b.slice();
    utf[12] = 0xff;
    expect(() => parseOpusTags(utf)).toThrow(/vendor string is not valid UTF-8/);
    expect(() => encodeOpusTags({ vendor: 'v', comments: [{ key: 'A=B', value: '' }] })).toThrow(
      /key/,
    );
  });
});

describe('opusPacketSamples (RFC 6716 §3.1)', () => {
  const toc = (config: number, code: number): number => (config << 3) | code;
  it('counts samples at 48 kHz for each mode and frame-count code', () => {
    expect(opusPacketSamples(Uint8Array.of(toc(31, 0), 0))).toBe(960); // CELT FB 20 ms
    expect(opusPacketSamples(Uint8Array.of(toc(16, 0)))).toBe(120); // CELT 2.5 ms
    expect(opusPacketSamples(Uint8Array.of(toc(1, 0)))).toBe(960); // SILK NB 20 ms
    expect(opusPacketSamples(Uint8Array.of(toc(3, 1)))).toBe(5760); // SILK 60 ms ×2
    expect(opusPacketSamples(Uint8Array.of(toc(13, 2)))).toBe(1920); // hybrid 20 ms ×2
    expect(opusPacketSamples(Uint8Array.of(toc(31, 3), 3))).toBe(2880); // code 3, 3 frames
  });
  it('rejects empty, 0-frame and over-120-ms packets', () => {
    expect(() => opusPacketSamples(new Uint8Array(0))).toThrow(/empty/);
    expect(() => opusPacketSamples(Uint8Array.of(toc(31, 3)))).toThrow(/frame count/);
    expect(() => opusPacketSamples(Uint8Array.of(toc(31, 3), 0))).toThrow(/0 frames/);
    expect(() => opusPacketSamples(Uint8Array.of(toc(31, 3), 7))).toThrow(/140 ms/);
  });
});
