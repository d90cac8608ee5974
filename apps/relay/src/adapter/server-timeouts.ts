/**
 * Timeouts on every HTTP connection (docs/operations.md "Limits"), each phase bounded by the right
 * clock so that a broadcast lasting hours and a listener waiting quietly for its next block coexist
 * with slowloris clients being cut:
 * - headers: node's headersTimeout (408, closed), checked every `connectionsCheckingInterval`;
 * - a JSON body: request-body-guard.ts (requestTimeoutMs); node's requestTimeout stays 0 because
 *   it cannot be lifted per request, and a streaming upload's body lasts as long as the broadcast
 *   (its own bound is uploadIdleTimeoutMs, upload-route.ts);
 * - between requests: keepAliveTimeout;
 * - anything else idle: the socket timeout (idleTimeoutMs), through onIdle below;
 * - dead peers under a long quiet answer: TCP keepalive (createServer's keepAlive).
 * WebSockets are not affected: ws sets the socket timeout to 0 at the upgrade.
 */
import type { Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { RelayLimits } from '../core/relay-config.ts';
import { currentResponse } from './fast-writer.ts';

/** Options for createServer: how often headersTimeout is checked, and TCP keepalive. */
export function timeoutServerOptions(limits: RelayLimits): ServerOptions {
  return {
    // node checks expiry on an interval (default 30 s, which would triple a 10 s timeout).
    connectionsCheckingInterval: Math.max(100, Math.min(1000, limits.headersTimeoutMs / 4)),
    keepAlive: true,
    keepAliveInitialDelay: 60_000,
  };
}

export function applyServerTimeouts(server: Server, limits: RelayLimits): void {
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = 0;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.timeout = limits.idleTimeoutMs;
  // With a listener here node no longer destroys a timed-out socket itself: this decides.
  server.on('timeout', onIdle);
}

/**
 * A socket with no traffic for idleTimeoutMs. Kept when an answer is in progress and nothing is
 * queued to the peer: a live download between blocks, a download waiting for `timeout_ms`, or an
 * upload whose own idle timer decides. Closed otherwise: idle between requests (keep-alive), or an
 * answer the peer stopped reading (bytes queued and none taken for the whole period).
 */
function onIdle(socket: Socket): void {
  const res = currentResponse(socket);
  if (res && !res.writableEnded && socket.writableLength === 0) return;
  socket.destroy();
}
