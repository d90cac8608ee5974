/**
 * Range and Content-Range parsing (RFC 9110 §14), complete and growing files; and what a real relay
 * promises for a range on a live media (a length only for bytes already stored).
 */
import { describe, expect, it } from 'vitest';
import {
  createMedia,
  downloadUrl,
  makeStream,
  streamingPut,
  until,
  uploadUrl,
  getIndex,
  useTestRelay,
} from '../testing/relay-fixture.ts';
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

describe('ranges on a live media', () => {
  const t = useTestRelay();

  it('a closed range past what is stored promises no length, and ends cleanly where the media completes short of it', async () => {
    const m = await createMedia(t);
    const s = makeStream(20, 180); // 4 + 20 × 196 = 3924 bytes, all under 9999
    const put = streamingPut(uploadUrl(t, m), t.auth);
    const half = s.offsets[10] as number;
    put.push(s.bytes.subarray(0, half));
    await until(async () => (await getIndex(t, m)).byte_length === half, 5000, 'half stored');

    const started = Date.now();
    const res = await fetch(downloadUrl(t, m), { headers: { Range: 'bytes=0-9999' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-length')).toBeNull();
    expect(res.headers.get('content-range')).toBe('bytes 0-*/*');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = res.arrayBuffer();
    put.push(s.bytes.subarray(half));
    put.end();
    expect((await put.response).status).toBe(200);
    const got = Buffer.from(await body);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(got.equals(s.bytes)).toBe(true);
  });

  it('a closed range already stored is exact and immutable while live; a downloaded byte is never sniffed', async () => {
    const m = await createMedia(t);
    const s = makeStream(10, 100);
    const put = streamingPut(uploadUrl(t, m), t.auth);
    put.push(s.bytes);
    await until(async () => (await getIndex(t, m)).byte_length === s.bytes.length, 5000, 'stored');
    const end = (s.offsets[5] as number) - 1;
    const res = await fetch(downloadUrl(t, m), { headers: { Range: `bytes=4-${end}` } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 4-${end}/*`);
    expect(res.headers.get('content-length')).toBe(String(end - 3));
    expect(res.headers.get('cache-control')).toContain('immutable');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await res.arrayBuffer()).equals(s.bytes.subarray(4, end + 1))).toBe(true);
    put.end();
    await put.response;
  });
});
