import { randomBytes } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32 as crc32Auto, crc32Implementation, crc32Portable } from './crc32.ts';

describe('crc32 (native in Node)', () => {
  it('uses zlib natively here and agrees with the portable core', () => {
    expect(crc32Implementation).toBe('native');
    const b = randomBytes(999);
    expect(crc32Auto(b.subarray(500), crc32Auto(b.subarray(0, 500)))).toBe(crc32Portable(b));
  });
});

describe('crc32Portable', () => {
  const crc32 = crc32Portable;
  it('matches the IEEE check value for "123456789"', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('matches zlib.crc32 for random inputs of every length up to 70 and some large ones', () => {
    for (let n = 0; n <= 70; n++) {
      const b = randomBytes(n);
      expect(crc32(b)).toBe(zlibCrc32(b));
    }
    for (const n of [1023, 4096, 65537]) {
      const b = randomBytes(n);
      expect(crc32(b)).toBe(zlibCrc32(b));
    }
  });

  it('continues across pieces like zlib does', () => {
    const b = randomBytes(301);
    for (const cut of [0, 1, 3, 4, 150, 300, 301]) {
      expect(crc32(b.subarray(cut), crc32(b.subarray(0, cut)))).toBe(zlibCrc32(b));
    }
  });
});
