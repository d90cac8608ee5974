/**
 * What a WebSocket listener may send the relay: nothing but tiny control frames (docs/protocol.md
 * "Listen over WebSocket": the relay sends, the listener only closes or answers pings). The
 * listeners' WebSocketServer has its own small maxPayload (limits.listenerMaxMessageBytes), so ws
 * refuses a larger frame from its header, before its payload is read, with close 1009 (RFC 6455
 * §7.4.1) — 125 bytes by default, the most a control frame may carry (RFC 6455 §5.5); this guard
 * closes a listener with 1008 at its first data message, and past a rate of control frames
 * (limits.listenerMessagesPerSecond, a token bucket with one second of burst; pings and pongs).
 * Either way the socket then reads no more (socket.pause(): TCP flow control keeps what the peer
 * still sends in its own buffers and the kernel's, so the relay spends no CPU and no memory on it;
 * ws would otherwise read and discard it until its 30 s close timeout); the close frame goes out,
 * and nothing more after it (RFC 6455 §5.5.1). The connection is then held, in closing state, for
 * limits.listenerCloseGraceMs before it is destroyed (RFC 6455 §7.1.1 lets the server wait for
 * the client's Close; the relay does not read it): all that time it counts against
 * limits.maxConnectionsPerAddress, so an address that keeps misbehaving cannot cycle connections
 * faster than that cap per grace — each cycle (accept, upgrade, join, close) being the costly part
 * (docs/operations.md "Listeners and memory"). ws's own close timeout (30 s) bounds the grace.
 * Each connection's hold is drawn between the grace and twice the grace (`heldFor`): connections
 * refused together — a crowd opened at once, each refused at its first frame — would otherwise
 * all be destroyed in one timer callback and, reconnecting together, all come back in one burst of
 * accepts and upgrades, a pause of the event loop that live listeners feel. Why a whole grace of
 * spread and not half of one: what the returns cost live listeners grows with how many come back
 * at once, not only with how many — the fan-out bench's `voice` N = 3000 hostile rows, with holds
 * drawn over half a grace, fanned out at 25–26 ms between the returns and at 29–35 ms while 150
 * flooders came back within those 5 s; over a whole grace the same crowd comes back at half that
 * rate, and less often, and costs the relay a third less CPU (the bench's honest p99 moved within
 * its noise: docs/hostile-bench.md, 2026-12-06). Never shorter than the grace: the per-address
 * bound above holds as it is. With the default grace (15 s) the longest hold meets ws's own close
 * timeout (30 s), which ends a hold at the latest.
 *
 * The refusal path makes no Error objects per frame: a data message is refused from ws's
 * 'message' event (no exception), later frames are never read, and ws's own receiver errors
 * (1009, 1002) come once per connection.
 */
import type { ServerOptions, WebSocket } from 'ws';
import type { RelayLimits } from '../core/relay-config.ts';
import type { RelayMetrics } from '../core/relay-metrics.ts';
import { pauseWsReading, wsSocket } from './fast-writer.ts';

/** ws's error code for a frame or message over maxPayload (it closes with 1009 itself). */
const TOO_BIG = 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';

/** How long one refused connection is held: uniform in [grace, 2 × grace] (see above). */
export function heldFor(graceMs: number, random = Math.random()): number {
  return Math.round(graceMs * (1 + random));
}

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
  const grace = Math.max(0, limits.listenerCloseGraceMs);
  let refused = false;

  const stopReading = () => {
    refused = true;
    holdOpen(ws);
    pauseWsReading(ws);
    // ws resumes the socket on the next tick after a receiver error: pause after that too.
    setImmediate(() => pauseWsReading(ws));
    metrics.listenersClosing++;
    // unref: a held connection must not keep a stopping relay open.
    const timer = setTimeout(() => ws.terminate(), heldFor(grace)).unref();
    ws.once('close', () => {
      clearTimeout(timer);
      metrics.listenersClosing--;
    });
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

/**
 * Keeps the relay's FIN back until the grace ends: after a receiver error ws ends the socket as
 * soon as its close frame is written, and a peer that reconnects when its connection closes would
 * then be back at once while this one still counts — the hold would slow nothing. Without the FIN
 * the peer sees its connection open (it may read our Close frame and close itself) until the grace
 * ends and terminate() destroys it.
 */
function holdOpen(ws: WebSocket): void {
  const socket = wsSocket(ws);
  if (!socket) return;
  socket.end = function (this: typeof socket) {
    return this;
  } as typeof socket.end;
}
