/**
 * Closing a connection whose request body was not read to its end (a refusal, an upload error, a
 * route that answered without reading): node would otherwise read and discard the rest of the body
 * to keep the connection alive (IncomingMessage._dump), which for an endless chunked body is
 * forever, at the speed the client sends. Closing at once is no better: with unread bytes in its
 * receive buffer the kernel answers with RST, which can destroy the response before the client
 * reads it. So, as RFC 9112 §9.6 advises, the close is staged: the response is followed by our FIN,
 * reading stops (the client's further bytes stay in kernel buffers, costing the relay no CPU) and
 * the socket is destroyed LINGER_MS later, time for the client to read the answer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { nodeDestroySoon, overrideDestroySoon } from './fast-writer.ts';

/** How long a closing connection is kept so the client can read the answer, ms. */
export const LINGER_MS = 1000;

const lingering = new WeakSet<Socket>();

/** node's destroySoon (end, then destroy once written; fast-writer.ts), not in @types/node. */
const destroySoon = nodeDestroySoon();

/**
 * node:http calls socket.destroySoon() after a `Connection: close` response, which would destroy
 * a lingering socket as soon as its FIN is written; on the relay's sockets it leaves those alone.
 */
function destroySoonUnlessLingering(this: Socket): void {
  if (!lingering.has(this)) destroySoon?.call(this);
}

/** Installs the staged close on an accepted socket (once, at `connection`). */
export function adoptSocket(socket: Socket): void {
  if (destroySoon) overrideDestroySoon(socket, destroySoonUnlessLingering);
}

/** Ends the connection after what is queued, reads no more, destroys it LINGER_MS later. */
export function lingeringClose(socket: Socket): void {
  if (lingering.has(socket) || socket.destroyed) return;
  lingering.add(socket);
  socket.end();
  socket.pause();
  // node:http resumes the socket to drain the request after the response's 'finish' listeners
  // run (resOnFinish → req._dump); pause again once that is done.
  setImmediate(() => socket.pause());
  // unref: a lingering connection must not hold a stopping relay open.
  const timer = setTimeout(() => socket.destroy(), LINGER_MS).unref();
  socket.once('close', () => clearTimeout(timer));
}

/**
 * For each request: when its answer is written before the body has all arrived, the connection is
 * closed as above rather than kept alive — unless what is left is a declared Content-Length of at
 * most `drainLimit` bytes, which node may read and discard at no risk, keeping the connection
 * reusable. The answer then says `Connection: close` (set when its head is written, the last
 * moment a header can be added), so a client does not send its next request on it.
 */
export function closeIfBodyUnread(
  req: IncomingMessage,
  res: ServerResponse,
  drainLimit: number,
): void {
  const mustClose = () => {
    if (req.complete) return false;
    const length = Number(req.headers['content-length'] ?? NaN);
    return !(req.headers['transfer-encoding'] === undefined && length <= drainLimit);
  };
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (mustClose()) this.setHeader('connection', 'close');
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof res.writeHead;
  // Before node's own 'finish' listener runs its keep-alive logic, hence prependListener.
  res.prependListener('finish', () => {
    if (mustClose()) lingeringClose(req.socket);
  });
}
