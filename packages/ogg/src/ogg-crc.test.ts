import { describe, expect, it } from 'vitest';
import { oggCrc } from './ogg-crc.ts';

describe('oggCrc', () => {
  it('is CRC-32/MPEG-2 when started from 0xffffffff (catalogue check value 0x0376e6e7)', () => {
    // Ogg's CRC and CRC-32/MPEG-2 share poly 0x04c11db7, no reflection, no final XOR; they differ
    // only in the initial register. Real pages from ffmpeg are checked in ffmpeg-interop.test.ts.
    const data = new TextEncoder().encode('123456789');
    expect(oggCrc(data, 0xffffffff)).toBe(0x0376e6e7);
  });

  it('continues across splits', () => {
    const data = new Uint8Array(300).map((_, i) => (i * 7 + 3) & 0xff);
    const whole = oggCrc(data);
    for (const cut of [0, 1, 17, 150, 299, 300]) {
      expect(oggCrc(data.subarray(cut), oggCrc(data.subarray(0, cut)))).toBe(whole);
    }
  });
});
