/**
 * A listener's failover past a relay node that accepts TCP and never answers (a hung process, a
 * black-holed proxy: docs/operations.md "Failover"). `mxcast listen --relay SILENT,REAL
 * --timeout 1` gives the silent node one timeout and plays the whole broadcast from the real
 * one, byte for byte what a listen on the real node alone writes (no gap, no repeat): through
 * the CLI's first index, through the player's own download (HTTP headers) and WebSocket (first
 * message) when `--from` skips that index, and every node silent is one line and exit 6. A node
 * that goes silent mid-broadcast (a proxy that stops forwarding, its connections left open) is
 * left for the other one by the player's stall watch, with no gap and no repeat.
 */
import { connect, createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySink, Player } from '@mxcast/player';
import { NodeWebSocket } from '@mxcast/player/node';
import {
  encodeBroadcast,
  finishedBroadcast,
  listenLinkOf,
  startUpload,
  useTestRelay,
  wait,
} from './broadcast-fixture.ts';
import { mxcast } from '../cli/mxcast-process.ts';
import { startSilentServer } from './silent-server.ts';

const relay = useTestRelay();

const closers: (() => Promise<void>)[] = [];

/** A TCP proxy to `upstream` that forwards until `freeze()`, then goes silent both ways (connections kept open, new ones accepted and held). */
async function startFreezableProxy(upstream: string): Promise<{ url: string; freeze(): void }> {
  const { port: upPort } = new URL(upstream);
  const sockets = new Set<Socket>();
  let frozen = false;
  const keep = (s: Socket) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  };
  const server = createServer((client) => {
    keep(client);
    if (frozen) return;
    const up = connect(Number(upPort), '127.0.0.1');
    keep(up);
    client.on('data', (d: Buffer) => void (frozen || up.write(d)));
    up.on('data', (d: Buffer) => void (frozen || client.write(d)));
    client.on('close', () => frozen || up.destroy());
    up.on('close', () => frozen || client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  closers.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { url: `http://127.0.0.1:${port}`, freeze: () => void (frozen = true) };
}
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
      const hung = await startSilentServer(closers);
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
      if (extra.length === 0)
        expect(r.stderr).toContain(`did not answer within 1000 ms; playing from ${relay.url}`);
      else {
        expect(r.stderr).toContain('did not answer within 1000 ms');
        expect(r.stderr).toMatch(/reconnects=1\b/);
      }
      // One 1 s timeout plus a CLI start (seconds on a loaded machine), never the hang.
      expect(ms).toBeLessThan(20_000);
    });
  }

  it('every node silent: one line naming each, exit 6 (network)', async () => {
    const a = await startSilentServer(closers);
    const b = await startSilentServer(closers);
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

describe('a node that goes silent mid-broadcast', () => {
  it('the player moves to the other node: every block once, in order, over HTTP and WebSocket', async () => {
    const b = await encodeBroadcast('voice', 4.8);
    const up = await startUpload(relay, b);
    up.send(4);
    const uploading = up.realtime(240);
    const listeners = await Promise.all(
      (['http', 'ws'] as const).map(async (transport) => {
        const proxy = await startFreezableProxy(relay.url);
        const sink = new MemorySink();
        const seqs: number[] = [];
        const errors: string[] = [];
        const player = new Player({
          relayUrl: proxy.url,
          fallbackRelayUrls: [relay.url],
          mxc: up.mxc,
          file: up.file,
          WebSocket: NodeWebSocket,
          sink,
          transport,
          geometry: b.geometry,
          reconnectDelayMs: 50,
          answerTimeoutMs: 800,
        });
        player.on('block', ({ seq }) => seqs.push(seq));
        player.on('error', (e) => errors.push(e.message));
        return { transport, proxy, sink, seqs, errors, player, done: player.play({ time: 0 }) };
      }),
    );
    await wait(1_500);
    for (const l of listeners) l.proxy.freeze();
    await uploading;
    for (const l of listeners) {
      const outcome = await l.done;
      expect(outcome.state, `${l.transport}: ${l.errors.join(' | ')}`).toBe('finished');
      expect(l.player.status().reconnects, l.transport).toBeGreaterThan(0);
      expect(l.errors.join('\n'), l.transport).toMatch(/stalled|did not answer/);
      // every audio block exactly once, in order
      expect(l.seqs, l.transport).toEqual(
        Array.from({ length: b.blocks.length - 2 }, (_, i) => i + 2),
      );
      let at = 0;
      for (const c of l.sink.chunks) {
        expect(c.startSample).toBe(at);
        at += c.pcm.length;
      }
      expect(at).toBe((b.blocks.length - 2) * b.blockSamples - b.preSkip);
    }
  });

  it('a quiet live broadcast (nothing uploaded for 3 timeouts) is not taken for a stall', async () => {
    const b = await encodeBroadcast('voice', 2.4);
    const up = await startUpload(relay, b);
    up.send(6);
    const listeners = (['http', 'ws'] as const).map((transport) => {
      const seqs: number[] = [];
      const player = new Player({
        relayUrl: relay.url,
        mxc: up.mxc,
        file: up.file,
        WebSocket: NodeWebSocket,
        sink: new MemorySink(),
        transport,
        geometry: b.geometry,
        answerTimeoutMs: 800,
      });
      player.on('block', ({ seq }) => seqs.push(seq));
      return { transport, seqs, player, done: player.play({ time: 0 }) };
    });
    await wait(2_500);
    for (const l of listeners) expect(l.seqs.at(-1), l.transport).toBe(5);
    await up.realtime(100);
    for (const l of listeners) {
      expect((await l.done).state, l.transport).toBe('finished');
      expect(l.player.status().reconnects, l.transport).toBe(0);
      expect(l.seqs, l.transport).toEqual(
        Array.from({ length: b.blocks.length - 2 }, (_, i) => i + 2),
      );
    }
  });
});
