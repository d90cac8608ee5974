/**
 * What a WebSocket listener may send the relay: nothing but tiny control frames (docs/protocol.md
 * "Listen over WebSocket": the relay sends, the listener only closes or answers pings). The
 * listeners' WebSocketServer has its own small maxPayload (limits.listenerMaxMessageBytes), so ws
 * refuses a larger frame from its header, before its payload is read, with close 1009 (RFC 6455
 * §7.4.1) — 125 bytes by default, the most a control frame may carry (RFC 6455 §5.5); this guard
 * closes a listener with 1008 at its first data message, and past a rate of control frames
 * (limits.listenerMessagesPerSecond, a token bucket with one second of burst; pings and pongs).
 * Either way the socket then reads no more: the close frame goes out, and the connection is
 * destroyed CLOSE_GRACE_MS later without waiting (ws would otherwise keep reading and discarding
 * whatever the peer still sends until its 30 s close timeout).
 */
import type { ServerOptions, WebSocket } from 'ws';
import type { RelayLimits } from '../core/relay-config.ts';
import type { RelayMetrics } from '../core/relay-metrics.ts';
import { pauseWsReading } from './fast-writer.ts';

/** How long a refused listener's connection stays for its close frame to be read, ms. */
export const CLOSE_GRACE_MS = 1000;

/** ws's error code for a frame or message over maxPayload (it closes with 1009 itself). */
const TOO_BIG = 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';

/** The listeners' own WebSocketServer (upload sockets keep their larger maxPayload). */
export function listenerServerOptions(limits: RelayLimits): ServerOptions {
  return { noServer: true, perMessageDeflate: false, maxPayload: limits.listenerMaxMessageBytes };
}

export function guardListenerInbound(
  ws: WebSocket,
  limits: RelayLimits,
  metrics: RelayMetrics,
): void {
  const rate = Math.max(1, limits.listenerMessagesPerSecond);
  let tokens = rate;
  let last = performance.now();
  let refused = false;

  const stopReading = () => {
    refused = true;
    pauseWsReading(ws);
    // ws resumes the socket on the next tick after a receiver error: pause after that too.
    setImmediate(() => pauseWsReading(ws));
    const timer = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
    ws.once('close', () => clearTimeout(timer));
  };

  const onInbound = () => {
    if (refused) return;
    const now = performance.now();
    tokens = Math.min(rate, tokens + ((now - last) / 1000) * rate);
    last = now;
    if (tokens >= 1) {
      tokens -= 1;
      return;
    }
    metrics.listenerInboundRefused.rate++;
    ws.close(1008, 'listeners send no more than control messages');
    stopReading();
  };
  // A listener has nothing to say in data frames (docs/protocol.md "Listen over WebSocket"): the
  // first one closes it, so a flooder costs one frame, not a bucket of them.
  ws.on('message', () => {
    if (refused) return;
    metrics.listenerInboundRefused.data++;
    ws.close(1008, 'listeners send only control frames');
    stopReading();
  });
  ws.on('ping', onInbound);
  ws.on('pong', onInbound);
  ws.on('error', (err: Error & { code?: string }) => {
    if (refused) return;
    if (err.code === TOO_BIG) metrics.listenerInboundRefused.size++;
    // ws has already sent the close (1009, or 1002 for a protocol error).
    stopReading();
  });
}
