import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { socketUnsentLimit } from './socket-unsent-limit.ts';

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
});

/**
 * Bytes the kernel took from a server socket whose loopback peer never reads: 16 MiB are written
 * in 16 KiB writes, and those whose callback came (handed to the kernel) counted once that count
 * stops growing.
 */
async function takenByKernel(limit: (socket: Socket) => void): Promise<number> {
  const server = createServer();
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const peer = connect(port, '127.0.0.1');
  sockets.push(peer);
  peer.pause();
  const [socket] = await accepted;
  sockets.push(socket);
  limit(socket);
  let taken = 0;
  const chunk = Buffer.alloc(16 * 1024);
  for (let i = 0; i < 1024; i++) socket.write(chunk, (err) => err || (taken += chunk.length));
  let last = -1;
  for (let i = 0; i < 50 && taken !== last; i++) {
    last = taken;
    await sleep(50);
  }
  return taken;
}

describe('socketUnsentLimit', () => {
  it('caps what a never-reading peer takes (TCP_NOTSENT_LOWAT), far below the host default', async () => {
    const limit = socketUnsentLimit(128 * 1024);
    expect(limit.unavailable).toBeUndefined();
    expect(limit.bytes).toBe(128 * 1024);
    let applied = false;
    const capped = await takenByKernel((s) => (applied = limit.apply(s)));
    expect(applied).toBe(true);
    const uncapped = await takenByKernel(() => {});
    // Cap + the peer's initial receive window + one write's overshoot; the default host takes MBs.
    expect(capped).toBeLessThan(1024 ** 2);
    expect(uncapped).toBeGreaterThan(2 * capped);
  });

  it('0 asks for no cap; an unknown platform says why it has none', () => {
    const off = socketUnsentLimit(0);
    expect(off).toMatchObject({ bytes: 0, unavailable: undefined });
    const other = socketUnsentLimit(128 * 1024, 'win32');
    expect(other.bytes).toBe(0);
    expect(other.unavailable).toMatch(/not known on win32/);
    expect(other.apply({} as Socket)).toBe(false);
  });

  it('a socket without a descriptor is left as it is', () => {
    expect(socketUnsentLimit(128 * 1024).apply({} as Socket)).toBe(false);
  });
});
