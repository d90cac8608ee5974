/**
 * The client's answer timeout (MediaClient `timeoutMs`, docs/operations.md "Cluster"): against a
 * real TCP server that accepts and never writes, a timed request fails as NETWORK (retryable) after
 * the timeout, the caller's own AbortSignal still gives ABORTED, and a download (not timed) is
 * left to its caller.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientError } from './client-error.ts';
import { MediaClient } from './media-client.ts';

let server: Server;
let url = '';
const sockets = new Set<Socket>();
beforeAll(async () => {
  server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

const failure = (p: Promise<unknown>): Promise<ClientError> =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as ClientError,
  );

describe('MediaClient timeoutMs', () => {
  it('tus HEAD and index against a silent server: NETWORK, retryable, after the timeout', async () => {
    const client = new MediaClient({ baseUrl: url, timeoutMs: 300 });
    for (const call of [
      () => client.tusOffset('mxc://localhost/abc'),
      () => client.index('mxc://localhost/abc'),
    ]) {
      const t0 = performance.now();
      const err = await failure(call());
      expect(err).toBeInstanceOf(ClientError);
      expect(err.code).toBe('NETWORK');
      expect(err.retryable).toBe(true);
      expect(err.message).toMatch(/did not answer within 300 ms/);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
    }
  });

  it("the caller's AbortSignal still aborts (ABORTED), before the timeout", async () => {
    const client = new MediaClient({ baseUrl: url, timeoutMs: 10_000 });
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 100);
    const t0 = performance.now();
    const err = await failure(client.tusOffset('mxc://localhost/abc', { signal: ctl.signal }));
    expect(err.code).toBe('ABORTED');
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it('a download is not timed: its answer may wait for the first byte (timeout_ms)', async () => {
    const client = new MediaClient({ baseUrl: url, timeoutMs: 100 });
    const ctl = new AbortController();
    const outcome = failure(client.download('mxc://localhost/abc', { signal: ctl.signal }));
    const early = await Promise.race([
      outcome.then(() => 'settled'),
      new Promise((r) => setTimeout(() => r('waiting'), 600)),
    ]);
    expect(early).toBe('waiting');
    ctl.abort();
    expect((await outcome).code).toBe('ABORTED');
  });

  it('refuses a timeout that is not > 0', () => {
    expect(() => new MediaClient({ baseUrl: url, timeoutMs: 0 })).toThrow(/timeoutMs/);
  });
});
