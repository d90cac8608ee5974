/**
 * The Node adapter: the Hono core on node:http through @hono/node-server's request listener,
 * and ws's WebSocketServers (noServer; listeners and uploads) on the same server's `upgrade` event.
 * The network edge is bounded here (docs/operations.md "Limits"): connections are capped at
 * accept (connection-limiter.ts), every phase of a connection has a timeout (server-timeouts.ts),
 * and a connection whose request body is not read to its end is closed, not drained
 * (lingering-close.ts); which bodies are allowed at all is the core's (request-body-guard.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { WebSocketServer } from 'ws';
import { createRelayApp } from '../app/relay-app.ts';
import { resolveConfig, type RelayConfig, type RelayOptions } from '../core/relay-config.ts';
import { RelayCore } from '../core/relay-core.ts';
import { ConnectionLimiter } from './connection-limiter.ts';
import { socketUnsentLimit } from './socket-unsent-limit.ts';
import { adoptSocket, closeIfBodyUnread } from './lingering-close.ts';
import { listenerServerOptions } from './listener-inbound-guard.ts';
import { directDownload } from './node-download-sink.ts';
import { applyServerTimeouts, timeoutServerOptions } from './server-timeouts.ts';
import { createUpgradeHandler } from './upgrade-router.ts';
import { errcodeOf, logRequest, logUpgrade, RefusedConnectionsLog } from './request-log.ts';
import { watchRevokedTokens } from './token-revoke-watch.ts';

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
    // Cluster mode: a node without its store would answer every request 503; refuse to start
    // instead, at once (one connection attempt, docs/operations.md "Cluster").
    await core.store.replica?.ready;
  } catch (err) {
    // e.g. a lost relay.db (storage/database-check.ts): release the lock and the database.
    await core.close();
    throw err;
  }
  core.publicUrl = config.publicUrl?.replace(/\/+$/, '') ?? '';
  const app = createRelayApp(core);
  // The request log (request-log.ts) wants the errcode of error answers: kept per response.
  const errcodes = new WeakMap<object, string>();
  const logger = config.logger;
  const honoListener = getRequestListener(async (request: Request, env: { outgoing: object }) => {
    const response = await app.fetch(request, env);
    const code = await errcodeOf(response);
    if (code) errcodes.set(env.outgoing, code);
    return response;
  });
  const limiter = new ConnectionLimiter(config.limits, core.metrics);
  const unsent = socketUnsentLimit(config.limits.socketUnsentBytes);
  core.socketUnsentBytes = unsent.bytes;
  if (unsent.unavailable)
    logger.warn('socket_unsent_limit_unavailable', {
      reason: unsent.unavailable,
      advice: 'sysctl net.ipv4.tcp_notsent_lowat=131072 does the same for the whole host',
    });
  const refusals = new RefusedConnectionsLog(logger);
  const server: Server = createServer(
    timeoutServerOptions(config.limits),
    (req: IncomingMessage, res: ServerResponse) => {
      // A refused connection is never read; should node have parsed a request anyway, drop it.
      if (limiter.isRefused(req.socket)) return;
      closeIfBodyUnread(req, res, config.limits.maxJsonBodyBytes);
      logRequest(req, res, logger, () => errcodes.get(res));
      return honoListener(req, res);
    },
  );
  server.on('connection', (socket: Socket) => {
    adoptSocket(socket);
    unsent.apply(socket);
    const full = core.metrics.connectionsRefused.maxConnections;
    if (!limiter.admit(socket))
      refusals.add(
        core.metrics.connectionsRefused.maxConnections > full
          ? 'maxConnections'
          : 'maxConnectionsPerAddress',
      );
  });
  applyServerTimeouts(server, config.limits);
  // A revoked token also ends the uploads and WebSockets it opened, within a second or so.
  watchRevokedTokens(server, core, logger);
  // Uploads may arrive in any split; a message is bounded like the largest block plus framing.
  const uploadWss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: Math.max(1024 * 1024, config.limits.maxBlockLength * 4),
  });
  const listenerWss = new WebSocketServer(listenerServerOptions(config.limits));
  const upgrade = createUpgradeHandler(core, { listeners: listenerWss, uploads: uploadWss });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (limiter.isRefused(socket)) socket.destroy();
    else {
      logUpgrade(req, socket, logger);
      upgrade(req, socket, head);
    }
  });
  core.directDownload = directDownload;
  core.queuedBytes = () => {
    let n = 0;
    for (const ws of listenerWss.clients) n += ws.bufferedAmount;
    return n;
  };

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
  // The bound address is logged at debug only: at info the log names no address at all.
  logger.info('start', {
    port,
    server_name: config.serverName,
    pid: process.pid,
    socket_unsent_bytes: unsent.bytes,
  });
  logger.debug('listening', { host: config.host, port, data_dir: config.dataDir });

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      for (const wss of [listenerWss, uploadWss]) {
        for (const ws of wss.clients) ws.terminate();
        wss.close();
      }
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await core.close();
      refusals.close();
      logger.info('stop', {});
    })();
    return closing;
  };
  return { url, port, config, close };
}
