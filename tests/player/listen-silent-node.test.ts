/**
 * A listener's failover past a relay node that accepts TCP and never answers (a hung process, a
 * black-holed proxy: docs/operations.md "Failover"). `mxcast listen --relay SILENT,REAL
 * --timeout 1` gives the silent node one timeout and plays the whole broadcast from the real
 * one, byte for byte what a listen on the real node alone writes (no gap, no repeat): through
 * the CLI's first index, through the player's own download (HTTP headers) and WebSocket (first
 * message) when `--from` skips that index, and every node silent is one line and exit 6.
 */
import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finishedBroadcast, listenLinkOf, useTestRelay } from './broadcast-fixture.ts';
import { mxcast } from '../cli/mxcast-process.ts';

const relay = useTestRelay();

/** A TCP server that accepts every connection and never writes a byte (nor closes). */
async function startSilentServer(): Promise<{ url: string; accepted: () => number }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  closers.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { url: `http://127.0.0.1:${port}`, accepted: () => accepted };
}
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.splice(0)) await c();
});

let link: string;
/** The whole broadcast as raw PCM, listened to on the real node alone. */
let reference: Buffer;
beforeAll(async () => {
  const { up } = await finishedBroadcast(relay, 'voice', 3);
  link = listenLinkOf(up);
  const r = await mxcast(['listen', link, '--out', '-', '--quiet']);
  expect(r.code, r.stderr).toBe(0);
  reference = r.stdout;
  expect(reference.length).toBeGreaterThan(2 * 48_000 * 2);
});

describe('mxcast listen --relay SILENT,REAL --timeout 1', () => {
  // --from 0 skips the CLI's first index: the player's own request meets the silent node.
  for (const [name, extra] of [
    ['the first index', []],
    ['the player’s download (HTTP headers)', ['--from', '0']],
    ['the player’s WebSocket (first message)', ['--from', '0', '--transport', 'ws']],
  ] as const) {
    it(`${name}: moves to the real node and plays all of it, no gap, no repeat`, async () => {
      const hung = await startSilentServer();
      const t0 = performance.now();
      const r = await mxcast([
        'listen',
        link,
        '--relay',
        `${hung.url},${relay.url}`,
        '--timeout',
        '1',
        '--out',
        '-',
        ...extra,
      ]);
      const ms = performance.now() - t0;
      expect(r.code, r.stderr).toBe(0);
      expect(hung.accepted()).toBeGreaterThan(0); // it did connect: the answer timed out
      expect(r.stdout.equals(reference), r.stderr).toBe(true);
      if (extra.length > 0) {
        expect(r.stderr).toContain('did not answer within 1000 ms');
        expect(r.stderr).toMatch(/reconnects=1\b/);
      }
      // One 1 s timeout plus a CLI start (seconds on a loaded machine), never the hang.
      expect(ms).toBeLessThan(20_000);
    });
  }

  it('every node silent: one line naming each, exit 6 (network)', async () => {
    const a = await startSilentServer();
    const b = await startSilentServer();
    const r = await mxcast([
      'listen',
      link,
      '--relay',
      `${a.url},${b.url}`,
      '--timeout',
      '0.5',
      '--out',
      '-',
    ]);
    expect(r.code, r.stderr).toBe(6);
    const lines = r.stderr.split('\n').filter((l) => l.includes('no relay answered'));
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toContain(`${a.url} did not answer within 500 ms`);
    expect(lines[0]).toContain(`${b.url} did not answer within 500 ms`);
    expect(r.stdout.length).toBe(0);
  });

  it('rejects a --timeout that is not a positive number (exit 2)', async () => {
    const r = await mxcast(['listen', link, '--timeout', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--timeout must be a positive number of seconds');
  });
});
