import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemuxError } from './hls-segment-remuxer.ts';
import { completeBody, networkRangeFetch, ShortBodyError } from './hls-short-body.ts';

/**
 * A real HTTP server answering Range GETs over 10 000 known bytes, as the relay's download.
 * Under /cut it holds only the first 9 000 (a relay that truncated the media its playlist still
 * lists): a range running past that is clamped to a short 206, one starting past it is a 416, as
 * the relay answers. /lying answers a 206 with the wrong Content-Range; /busy a 503; /reset
 * drops the connection.
 */
const resource = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7) & 0xff);
const CUT = 9000;
let server: Server;
let base: string;
const ranges: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    ranges.push(req.headers.range ?? '');
    if (req.url === '/reset') return void req.socket.destroy();
    if (req.url === '/busy') return void res.writeHead(503).end('{"errcode":"M_UNKNOWN"}');
    const bytes = req.url === '/cut' ? resource.subarray(0, CUT) : resource;
    if (!m) return void res.writeHead(200).end(Buffer.from(bytes));
    const start = Number(m[1]);
    const last = Math.min(Number(m[2]), bytes.length - 1);
    if (start >= bytes.length)
      return void res.writeHead(416, { 'Content-Range': `bytes */${bytes.length}` }).end();
    const shift = req.url === '/lying' ? 100 : 0;
    res.writeHead(206, {
      'Content-Range': `bytes ${start + shift}-${last + shift}/${bytes.length}`,
    });
    res.end(Buffer.from(bytes.subarray(start, last + 1)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

async function failureOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => new Error('completed, but should have failed'),
    (e: unknown) => e,
  );
}

describe('a fragment body shorter than its range (hls-short-body.ts)', () => {
  it('completes a body cut short (as a partial cache entry ends it) from the network', async () => {
    const [start, end] = [3000, 5100];
    const cut = resource.slice(start, 4096); // ends where a partial entry ended
    ranges.length = 0;
    const whole = await completeBody(cut, start, end, networkRangeFetch(`${base}/media`));
    expect(Buffer.from(whole).equals(Buffer.from(resource.subarray(start, end)))).toBe(true);
    expect(ranges).toEqual(['bytes=4096-5099']); // only the missing tail was asked for
  });

  it('passes a whole body through without a request', async () => {
    ranges.length = 0;
    const body = resource.slice(100, 200);
    expect(await completeBody(body, 100, 200, networkRangeFetch(`${base}/media`))).toBe(body);
    expect(ranges).toEqual([]);
  });

  it('the network still answering short (a clamped 206) is TAMPERED', async () => {
    const body = resource.slice(8000, 8500); // first answer short, as from a cache
    const failure = await failureOf(
      completeBody(body, 8000, 9500, networkRangeFetch(`${base}/cut`)),
    );
    expect(failure).toBeInstanceOf(RemuxError);
    expect((failure as RemuxError).code).toBe('TAMPERED');
    expect((failure as Error).message).toMatch(/stop short of what its playlist lists/);
  });

  it('a 416 for the listed tail (the relay truncated before it) is TAMPERED', async () => {
    const body = resource.slice(8000, CUT); // the relay's own body ends at its cut
    ranges.length = 0;
    const failure = await failureOf(
      completeBody(body, 8000, 9500, networkRangeFetch(`${base}/cut`)),
    );
    expect(ranges).toEqual([`bytes=${CUT}-9499`]);
    expect((failure as RemuxError).code).toBe('TAMPERED');
    expect((failure as Error).message).toMatch(/416/);
  });

  it('a 206 whose Content-Range is not the tail asked for is TAMPERED', async () => {
    const failure = await failureOf(
      completeBody(resource.slice(0, 50), 0, 200, networkRangeFetch(`${base}/lying`)),
    );
    expect((failure as RemuxError).code).toBe('TAMPERED');
    expect((failure as Error).message).toMatch(/Content-Range bytes 150-299/);
  });

  it('a transport failure (connection reset, 5xx) stays a retried load error', async () => {
    const reset = await failureOf(
      completeBody(resource.slice(0, 50), 0, 200, networkRangeFetch(`${base}/reset`)),
    );
    expect(reset).toBeInstanceOf(TypeError); // fetch rejects: hls.js retries, NETWORK at last
    expect(reset).not.toBeInstanceOf(RemuxError);
    const busy = await failureOf(
      completeBody(resource.slice(0, 50), 0, 200, networkRangeFetch(`${base}/busy`)),
    );
    expect(busy).toBeInstanceOf(ShortBodyError);
    expect((busy as Error).message).toMatch(/HTTP 503/);
  });
});
