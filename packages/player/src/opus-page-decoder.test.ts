import { describe, expect, it } from 'vitest';
import { OpusPageDecoder, type PacketDecoder } from './opus-page-decoder.ts';

/** A stand-in decoder whose output counts samples, so every trim is visible in the values. */
function countingDecoder(): PacketDecoder {
  let n = 0;
  return { decode: () => Int16Array.from({ length: 960 }, () => n++ % 30000) };
}

const packet = new Uint8Array(10);

describe('OpusPageDecoder', () => {
  it('drops the pre-skip at the start (RFC 7845 §4.2)', () => {
    const d = new OpusPageDecoder({ channels: 1, preSkip: 312, createDecoder: countingDecoder });
    const out = d.decodePage(2, [packet, packet], 1920n, false);
    expect(out?.startSample).toBe(0);
    expect(out?.pcm.length).toBe(1920 - 312);
    expect(out?.pcm[0]).toBe(312);
  });

  it('discards the pre-roll and starts at the exact target sample after a seek', () => {
    const d = new OpusPageDecoder({ channels: 1, preSkip: 312, createDecoder: countingDecoder });
    d.restart(10_000);
    // block covering granules 9600..11520 (output samples 9288..11208)
    const out = d.decodePage(12, [packet, packet], 11_520n, false);
    expect(out?.startSample).toBe(10_000);
    expect(out?.pcm.length).toBe(11_208 - 10_000);
    expect(out?.pcm[0]).toBe(10_000 - 9288);
    expect(d.decodePage(13, [packet], 12_480n, false)?.startSample).toBe(11_208);
  });

  it('cuts the end of the EOS page to its granule (RFC 7845 §4.4)', () => {
    const d = new OpusPageDecoder({ channels: 1, preSkip: 0, createDecoder: countingDecoder });
    d.decodePage(2, [packet], 960n, false);
    const last = d.decodePage(3, [packet], 960n + 500n, true);
    expect(last?.startSample).toBe(960);
    expect(last?.pcm.length).toBe(500);
  });
});
