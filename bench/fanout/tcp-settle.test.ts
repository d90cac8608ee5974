/** The TIME_WAIT count from the kernel, and the wait for it to fall. */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseTimeWait, settleTcp, timeWaitNow } from './tcp-settle.ts';

describe('parseTimeWait', () => {
  it('reads the tw field of the TCP line', () => {
    const text =
      'sockets: used 5432\nTCP: inuse 5404 orphan 0 tw 5548 alloc 5404 mem 49\nUDP: inuse 0 mem 0\n';
    expect(parseTimeWait(text)).toBe(5548);
    expect(parseTimeWait('sockets: used 1\nUDP: inuse 0 mem 0\n')).toBeNull();
  });
});

describe('timeWaitNow', () => {
  it('counts the connections this process closed first', async () => {
    const server = net.createServer((s) => s.on('end', () => s.end()));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    // The side that closes first keeps the connection in TIME_WAIT (RFC 9293 §3.3.2).
    const closeTwenty = async () => {
      for (let i = 0; i < 20; i++) {
        const c = net.connect(port, '127.0.0.1');
        await new Promise((r) => c.once('connect', r));
        c.end();
        await new Promise((r) => c.once('close', r));
      }
    };
    // Other processes' connections expire meanwhile (a test that closed hundreds 60 s before
    // sees them all go at once), so each try compares with a fresh count: at least most of our
    // twenty must show in one of three tries.
    const rises: number[] = [];
    for (let attempt = 0; attempt < 3 && !rises.some((d) => d >= 10); attempt++) {
      const before = timeWaitNow();
      if (before === null) throw new Error('no /proc/net/sockstat on this machine');
      await closeTwenty();
      rises.push(timeWaitNow()! - before);
    }
    server.close();
    expect(Math.max(...rises)).toBeGreaterThanOrEqual(10);
  });
});

describe('settleTcp', () => {
  it('waits until few sockets are left, and no longer', async () => {
    const seen = [5000, 3000, 40, 0];
    const r = await settleTcp({ pollMs: 1, read: () => seen.shift() ?? 0 });
    expect(r).toMatchObject({ before: 5000, after: 40 });
    expect(seen).toEqual([0]);
  });

  it('gives up after maxMs', async () => {
    const r = await settleTcp({ pollMs: 5, maxMs: 30, read: () => 9000 });
    expect(r?.after).toBe(9000);
    expect(r!.waitedMs).toBeGreaterThanOrEqual(30);
  });

  it('is null where the kernel does not say', async () => {
    expect(await settleTcp({ read: () => null })).toBeNull();
  });
});
