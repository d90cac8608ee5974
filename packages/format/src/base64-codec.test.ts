import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeBase64, decodeBase64Url, encodeBase64, encodeBase64Url } from './base64-codec.ts';

describe('base64 codec', () => {
  it('matches Buffer for every length up to 40, unpadded', () => {
    for (let n = 0; n <= 40; n++) {
      const b = randomBytes(n);
      expect(encodeBase64(b)).toBe(b.toString('base64').replace(/=+$/, ''));
      expect(encodeBase64Url(b)).toBe(b.toString('base64url'));
      expect(decodeBase64(b.toString('base64'))).toEqual(new Uint8Array(b));
      expect(decodeBase64Url(b.toString('base64url'))).toEqual(new Uint8Array(b));
    }
  });

  it('reports bad characters, lengths and trailing bits', () => {
    expect(decodeBase64('ab-d')).toMatch(/character "-" at 2/);
    expect(decodeBase64Url('ab+d')).toMatch(/character "\+" at 2/);
    expect(decodeBase64('abcde')).toMatch(/length 5/);
    expect(decodeBase64('AB')).toMatch(/trailing bits/);
    expect(decodeBase64('AAAA=')).toMatch(/padding makes the length 5/);
    expect(decodeBase64Url('AAA==')).toMatch(/padding makes the length 5/);
    expect(decodeBase64Url('AAE=')).toEqual(new Uint8Array([0, 1]));
  });
});
