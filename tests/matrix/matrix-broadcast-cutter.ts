/**
 * A TCP relay in front of a server that can drop the network for a while: every connection is
 * destroyed and the port refuses new ones until it listens again (on the same port). Used by
 * tests/matrix/matrix-broadcast.test.ts to take the broadcaster's relay away mid-broadcast.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

export interface CuttableLink {
  url: string;
  /** Drops every connection, refuses new ones for `ms`, then accepts again. */
  cut(ms: number): Promise<void>;
  close(): Promise<void>;
}

export async function startCuttableLink(upstream: string): Promise<CuttableLink> {
  const target = new URL(upstream);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const open = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        const up = connect(Number(target.port), target.hostname);
        for (const [a, b] of [
          [client, up],
          [up, client],
        ] as const) {
          sockets.add(a);
          a.on('error', () => {});
          a.on('close', () => {
            sockets.delete(a);
            b.destroy();
          });
          a.pipe(b);
        }
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as AddressInfo).port;
        server = s;
        resolve();
      });
    });
  const shut = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      if (server) server.close(() => resolve());
      else resolve();
      server = undefined;
    });
  await open();
  return {
    url: `http://127.0.0.1:${port}`,
    async cut(ms) {
      await shut();
      await new Promise((r) => setTimeout(r, ms));
      await open();
    },
    close: shut,
  };
}
