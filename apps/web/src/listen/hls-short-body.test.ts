import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeBody, networkRangeFetch, ShortBodyError } from './hls-short-body.ts';

/** A real HTTP server answering Range GETs over 10 000 known bytes, as the relay's download. */
const resource = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7) & 0xff);
let server: Server;
let url: string;
const ranges: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    ranges.push(req.headers.range ?? '');
    if (!m) return void res.writeHead(200).end(Buffer.from(resource));
    const [start, last] = [Number(m[1]), Number(m[2])];
    res.writeHead(206, { 'Content-Range': `bytes ${start}-${last}/${resource.length}` });
    res.end(Buffer.from(resource.subarray(start, last + 1)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/media`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('a fragment body shorter than its range (hls-short-body.ts)', () => {
  it('completes a body cut short (as a partial cache entry ends it) from the network', async () => {
    const [start, end] = [3000, 5100];
    const cut = resource.slice(start, 4096); // ends where a partial entry ended
    ranges.length = 0;
    const whole = await completeBody(cut, start, end, networkRangeFetch(url));
    expect(Buffer.from(whole).equals(Buffer.from(resource.subarray(start, end)))).toBe(true);
    expect(ranges).toEqual(['bytes=4096-5099']); // only the missing tail was asked for
  });

  it('passes a whole body through without a request', async () => {
    ranges.length = 0;
    const body = resource.slice(100, 200);
    expect(await completeBody(body, 100, 200, networkRangeFetch(url))).toBe(body);
    expect(ranges).toEqual([]);
  });

  it('a tail that still does not add up is a load error, not tampering', async () => {
    const body = resource.slice(9000, 9500);
    // The range runs past the resource: the server sends fewer bytes than missing.
    const failure = await completeBody(body, 9000, 10_500, networkRangeFetch(url)).catch(
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(ShortBodyError);
  });
});
