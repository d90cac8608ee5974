/**
 * A relay node that is up but never answers: a TCP server that accepts every connection and
 * never writes a byte (nor closes). What the clients' answer timeouts exist for
 * (docs/operations.md "Failover"). `closers` gets its stop, for the caller's afterAll.
 */
import { createServer, type Socket } from 'node:net';

export interface SilentServer {
  url: string;
  /** Connections accepted so far. */
  accepted(): number;
}

export async function startSilentServer(closers: (() => Promise<void>)[]): Promise<SilentServer> {
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
