/**
 * The Node adapter: the Hono core on node:http through @hono/node-server's request listener,
 * and ws's WebSocketServer (noServer) on the same server's `upgrade` event.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { WebSocketServer } from 'ws';
import { createRelayApp } from '../core/relay-app.ts';
import { resolveConfig, type RelayConfig, type RelayOptions } from '../core/relay-config.ts';
import { RelayCore } from '../core/relay-core.ts';
import { directDownload } from './node-download-sink.ts';
import { createUpgradeHandler } from './upgrade-router.ts';

export interface RunningRelay {
  /** Base URL clients use (the public URL if one was given). */
  url: string;
  port: number;
  config: RelayConfig;
  /** Stops accepting, ends every connection, flushes and closes storage. */
  close(): Promise<void>;
}

export async function startRelay(options: RelayOptions): Promise<RunningRelay> {
  const config = resolveConfig(options);
  const core = new RelayCore(config);
  try {
    core.store.start();
  } catch (err) {
    // e.g. a lost relay.db (storage/database-check.ts): release the lock and the database.
    await core.close();
    throw err;
  }
  core.publicUrl = config.publicUrl?.replace(/\/+$/, '') ?? '';
  const app = createRelayApp(core);
  const server: Server = createServer(getRequestListener(app.fetch));
  // Uploads may arrive in any split; a message is bounded like the largest block plus framing.
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: Math.max(1024 * 1024, config.limits.maxBlockLength * 4),
  });
  server.on('upgrade', createUpgradeHandler(core, wss));
  core.directDownload = directDownload;
  core.queuedBytes = () => {
    let n = 0;
    for (const ws of wss.clients) n += ws.bufferedAmount;
    return n;
  };
  server.keepAliveTimeout = 5000;
  // Streaming uploads and downloads last as long as a broadcast.
  server.requestTimeout = 0;

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await core.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = config.publicUrl?.replace(/\/+$/, '') ?? `http://${host}:${port}`;

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await core.close();
    })();
    return closing;
  };
  return { url, port, config, close };
}
