/**
 * rangedFetch against a real HTTP server on loopback (node:http): the bytes come whole and in
 * order, one range per request, a request only when the reader asks (nothing fetched ahead), a
 * refusal is handed back before any byte, a wrong or short range errors the stream, and a
 * server that ignores Range is streamed as before.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { rangedFetch } from './ranged-fetch.ts';

const FILE = randomBytes(10_000);

interface FileServer {
  url: string;
  requests: string[];
  server: Server;
}

let running: Server | undefined;
afterEach(async () => {
  await new Promise((r) => running?.close(r));
  running = undefined;
});

/** Serves FILE with Range (or as `mode` says), remembering each request's Range header. */
async function serve(
  mode: 'ranges' | 'no-ranges' | 'shifted' | 'short' | 'auth',
): Promise<FileServer> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const range = req.headers.range ?? '';
    requests.push(range);
    if (mode === 'auth' && req.headers.authorization !== 'Bearer good') {
      res.writeHead(401).end('{"errcode":"M_UNKNOWN_TOKEN"}');
      return;
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(range);
    if (mode === 'no-ranges' || !m) {
      res.writeHead(200, { 'Content-Length': FILE.length }).end(FILE);
      return;
    }
    const start = Number(m[1]) + (mode === 'shifted' && Number(m[1]) > 0 ? 1 : 0);
    const end = Math.min(Number(m[2]), FILE.length - 1);
    const body = FILE.subarray(start, end + 1);
    res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${FILE.length}` });
    // `short`: the second range's answer stops halfway (Content-Length not sent: chunked).
    res.end(mode === 'short' && start > 0 ? body.subarray(0, body.length >> 1) : body);
  });
  running = server;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/f`, requests, server };
}

async function readAll(body: ReadableStream<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  const reader = body.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) parts.push(r.value);
  return Buffer.concat(parts);
}

describe('rangedFetch', () => {
  it('reads the file whole, one range per request, each when the reader asks', async () => {
    const s = await serve('ranges');
    const got = await rangedFetch(s.url, {}, 4096);
    if (got instanceof Response) throw new Error(`refused: ${got.status}`);
    // The first range is fetched before the stream is handed out, and nothing more until read.
    await new Promise((r) => setTimeout(r, 100));
    expect(s.requests).toEqual(['bytes=0-4095']);
    const reader = got.body.getReader();
    expect((await reader.read()).value?.length).toBe(4096);
    await new Promise((r) => setTimeout(r, 100));
    expect(s.requests).toHaveLength(1);
    reader.releaseLock();
    const rest = await readAll(got.body);
    expect(Buffer.concat([FILE.subarray(0, 4096), rest]).equals(FILE)).toBe(true);
    expect(s.requests).toEqual(['bytes=0-4095', 'bytes=4096-8191', 'bytes=8192-12287']);
  });

  it('hands back a refusal before any byte', async () => {
    const s = await serve('auth');
    const refused = await rangedFetch(s.url, { Authorization: 'Bearer bad' }, 4096);
    expect(refused).toBeInstanceOf(Response);
    expect((refused as Response).status).toBe(401);
    const ok = await rangedFetch(s.url, { Authorization: 'Bearer good' }, 4096);
    if (ok instanceof Response) throw new Error(`refused: ${ok.status}`);
    expect((await readAll(ok.body)).equals(FILE)).toBe(true);
  });

  it('errors the stream on a range it did not ask for or a range cut short', async () => {
    for (const mode of ['shifted', 'short'] as const) {
      const s = await serve(mode);
      const got = await rangedFetch(s.url, {}, 4096);
      if (got instanceof Response) throw new Error(`refused: ${got.status}`);
      await expect(readAll(got.body)).rejects.toThrow(/range/);
      await new Promise((r) => s.server.close(r));
    }
  });

  it('streams the body of a server that ignores Range', async () => {
    const s = await serve('no-ranges');
    const got = await rangedFetch(s.url, {}, 4096);
    if (got instanceof Response) throw new Error(`refused: ${got.status}`);
    expect((await readAll(got.body)).equals(FILE)).toBe(true);
    expect(s.requests).toHaveLength(1);
  });
});
