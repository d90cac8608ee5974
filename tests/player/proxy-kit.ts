/**
 * The plumbing the test proxies in front of a real relay share (tampering-proxy.ts,
 * tampering-ws-proxy.ts, failing-index-proxy.ts): a loopback listener, a close that drops
 * keep-alive connections too, and the forwarded GET whose body a proxy may rewrite.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on 127.0.0.1 at a free port; resolves with the proxy's base URL. */
export async function listenLoopback(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Closes the server and every connection it still holds (the players keep theirs alive). */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** The same GET to the relay, with the listener's Authorization header if it sent one. */
export function fetchUpstream(upstream: string, req: IncomingMessage): Promise<Response> {
  const auth = req.headers.authorization;
  return fetch(upstream + (req.url ?? '/'), { headers: auth ? { authorization: auth } : {} });
}

/**
 * Runs a handler that answers with the relay's status and content type and a (maybe rewritten)
 * body; a failure in the handler is a 500 with its message, so a test sees it.
 */
export function answerWith(
  res: ServerResponse,
  handle: () => Promise<{ up: Response; body: Uint8Array } | undefined>,
): void {
  handle().then(
    (answer) => {
      if (!answer) return; // the handler wrote the response itself
      const type = answer.up.headers.get('content-type') ?? 'application/json';
      res.writeHead(answer.up.status, { 'content-type': type });
      res.end(answer.body);
    },
    (err: unknown) => {
      res.writeHead(500);
      res.end(String(err));
    },
  );
}
