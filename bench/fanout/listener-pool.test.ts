/**
 * The listener pool against small real servers on loopback that speak each transport's
 * framing, so arrivals, delays, losses and drops are counted from real sockets.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ListenerPool, type ListenerKind } from './listener-pool.ts';
import { monotonicMs } from './monotonic-clock.ts';

const BLOCK = 140;
const HEADER_END = 178;

function block(seq: number): Buffer {
  const b = Buffer.alloc(BLOCK, 0xab);
  b.writeUInt32BE(0xffffffff, 0);
  b.writeUInt32BE(seq, 4);
  return b;
}

function oggPage(seq: number): Buffer {
  const p = Buffer.alloc(27 + 1 + 80, 0x11);
  p.write('OggS', 0, 'latin1');
  p.writeUInt32LE(seq, 18);
  p[26] = 1;
  p[27] = 80;
  return p;
}

/** A server that answers every listener and then sends it the units `send` asks for. */
class FakeServer {
  readonly sockets: net.Socket[] = [];
  readonly server: net.Server;
  constructor(readonly kind: ListenerKind) {
    this.server = net.createServer((s) => {
      s.once('data', () => {
        if (kind === 'relay-ws')
          s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n');
        else if (kind === 'relay-http') {
          s.write(
            `HTTP/1.1 206 Partial Content\r\nContent-Range: bytes ${HEADER_END + 3 * BLOCK}-*/*\r\nTransfer-Encoding: chunked\r\n\r\n`,
          );
        } else s.write('HTTP/1.0 200 OK\r\nContent-Type: application/ogg\r\n\r\n');
        this.sockets.push(s);
      });
      s.on('error', () => undefined);
    });
  }
  listen(): Promise<number> {
    return new Promise((r) =>
      this.server.listen(0, '127.0.0.1', () => r((this.server.address() as net.AddressInfo).port)),
    );
  }
  /** Unit `seq` to every listener except those in `skip`. */
  send(seq: number, skip: Set<number> = new Set()): void {
    this.sockets.forEach((s, i) => {
      if (skip.has(i) || s.destroyed) return;
      if (this.kind === 'relay-ws')
        s.write(Buffer.concat([Buffer.of(0x82, 126, 0, BLOCK), block(seq)]));
      else if (this.kind === 'relay-http')
        s.write(
          Buffer.concat([
            Buffer.from(`${BLOCK.toString(16)}\r\n`),
            block(seq),
            Buffer.from('\r\n'),
          ]),
        );
      else s.write(oggPage(seq));
    });
  }
  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let server: FakeServer | null = null;
afterEach(() => server?.close());

describe('ListenerPool', () => {
  it.each(['relay-ws', 'relay-http', 'icecast-http'] as const)(
    '%s: measures delays of window blocks and counts lost blocks and dropped listeners',
    async (kind) => {
      server = new FakeServer(kind);
      const port = await server.listen();
      const sendTimes = new Float64Array(64);
      let sent = 5; // the HTTP listeners' Range starts at block 5 (HEADER_END + 3 blocks)
      const pool = new ListenerPool(
        { kind, port, path: '/x', blockBytes: BLOCK, headerEnd: HEADER_END },
        sendTimes,
        () => sent,
        true,
      );
      const join = await pool.join(4, 2, 5000, 5000);
      expect(join).toMatchObject({ joined: 4, failed: 0 });
      await sleep(50);
      expect(pool.startWindow(5)).toBe(4);
      for (let seq = 5; seq < 10; seq++) {
        sendTimes[seq] = monotonicMs() - 20; // sent "20 ms ago": every delay is ≥ 20 ms
        sent = seq + 1;
        // listener 1 misses block 7 (WS/Ogg only: HTTP is a byte stream, a gap would shift it)
        server.send(seq, kind !== 'relay-http' && seq === 7 ? new Set([1]) : new Set());
        await sleep(10);
      }
      server.sockets[3]?.destroy(); // listener 3 is dropped before block 10
      await sleep(50);
      sendTimes[10] = monotonicMs();
      server.send(10);
      pool.endWindow(10);
      await sleep(100);
      const r = pool.result(4);
      pool.close();
      const summary = pool.histogram.summary();
      expect(r.dropped).toBe(1);
      expect(r.expectedBlocks).toBe(4 * 6);
      // listener 3 lost block 10; listener 1 lost block 7 where the transport can skip
      expect(r.lostBlocks).toBe(kind === 'relay-http' ? 1 : 2);
      expect(summary.samples).toBe(24 - r.lostBlocks);
      expect(summary.p50).toBeGreaterThanOrEqual(20);
      expect(summary.max).toBeLessThan(1000);
      // Traced: each window block's worst delay, the largest of its listeners' (≥ 20 ms sent ago).
      expect([...pool.worstBySeq.keys()].sort((a, b) => a - b)).toEqual([5, 6, 7, 8, 9, 10]);
      for (let seq = 5; seq < 10; seq++)
        expect(pool.worstBySeq.get(seq)).toBeGreaterThanOrEqual(20);
      expect(Math.max(...pool.worstBySeq.values())).toBe(summary.max);
    },
  );

  it('counts refused joins by status and stops joining at the budget', async () => {
    const refuse = net.createServer((s) =>
      s.once('data', () => s.end('HTTP/1.1 429 Too Many Requests\r\n\r\n')),
    );
    await new Promise<void>((r) => refuse.listen(0, '127.0.0.1', r));
    const port = (refuse.address() as net.AddressInfo).port;
    try {
      const pool = new ListenerPool(
        { kind: 'relay-ws', port, path: '/x' },
        new Float64Array(4),
        () => 0,
      );
      const join = await pool.join(5, 2, 2000, 5000);
      expect(join).toMatchObject({ joined: 0, failed: 5, failures: { 'HTTP 429': 5 } });
      const late = new ListenerPool(
        { kind: 'relay-ws', port, path: '/x' },
        new Float64Array(4),
        () => 0,
      );
      const none = await late.join(5, 2, 2000, 0);
      expect(none.failures).toEqual({ 'join budget': 5 });
    } finally {
      refuse.close();
    }
  });
});
