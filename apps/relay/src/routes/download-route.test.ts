/** Range and Content-Range parsing (RFC 9110 §14), complete and growing files. */
import { describe, expect, it } from 'vitest';
import { parseRange } from './download-route.ts';
import { parseContentRangeStart } from './upload-route.ts';

describe('parseRange', () => {
  it.each([
    ['bytes=0-', 100, { start: 0, end: 99 }],
    ['bytes=10-19', 100, { start: 10, end: 19 }],
    ['bytes=10-500', 100, { start: 10, end: 99 }],
    ['bytes=-10', 100, { start: 90, end: 99 }],
    ['bytes=-500', 100, { start: 0, end: 99 }],
    ['bytes=100-', 100, 'unsatisfiable'],
    ['bytes=-0', 100, 'unsatisfiable'],
    ['bytes=20-10', 100, null],
    ['bytes=0-1,5-6', 100, null],
    ['items=0-1', 100, null],
    ['bytes=-', 100, null],
    ['bytes=500-', null, { start: 500, end: null }],
    ['bytes=5-9', null, { start: 5, end: 9 }],
    ['bytes=-10', null, null],
  ] as const)('%s of %s', (header, total, expected) => {
    expect(parseRange(header, total)).toEqual(expected);
  });
  it('ignores a missing header', () => expect(parseRange(undefined, 5)).toBeNull());
});

describe('parseContentRangeStart', () => {
  it('reads the start of "bytes N-*/*" and refuses other forms', () => {
    expect(parseContentRangeStart(undefined)).toBe(0);
    expect(parseContentRangeStart('bytes 1234-*/*')).toBe(1234);
    expect(parseContentRangeStart('bytes 5-9/10')).toBe(5);
    expect(() => parseContentRangeStart('bytes=5-')).toThrow(/Content-Range/);
  });
});
