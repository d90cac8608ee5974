/**
 * An unreliable relay for tests: a node:http proxy in front of a real relay that passes every
 * request through (streamed, so live downloads keep growing) except the block index
 * (docs/protocol.md "Block index"), which it may answer with an error status instead.
 */
import { createServer, request, type Server } from 'node:http';
import { closeServer, listenLoopback } from './proxy-kit.ts';

export interface FailingIndexProxy {
  url: string;
  /** Index requests seen so far (answered or failed). */
  readonly indexRequests: number;
  close(): Promise<void>;
}

/**
 * `failWith(n)` is called for the n-th index request (1-based): a status to answer with
 * (Matrix JSON error body), 'drop' to cut the connection without an answer, or null to pass
 * the request to the relay.
 */
export async function startFailingIndexProxy(
  upstream: string,
  failWith: (n: number) => number | 'drop' | null,
): Promise<FailingIndexProxy> {
  const up = new URL(upstream);
  let indexRequests = 0;
  const server: Server = createServer((req, res) => {
    if ((req.url ?? '').includes('/org.matrix.msc4016/index/')) {
      const status = failWith(++indexRequests);
      if (status === 'drop') {
        req.socket.destroy();
        return;
      }
      if (status !== null) {
        const errcode =
          status === 404 ? 'M_NOT_FOUND' : status === 429 ? 'M_LIMIT_EXCEEDED' : 'M_UNKNOWN';
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errcode, error: `proxy answers ${status}` }));
        return;
      }
    }
    const forward = request(
      {
        host: up.hostname,
        port: up.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    res.on('close', () => forward.destroy());
    req.pipe(forward);
  });
  const url = await listenLoopback(server);
  return {
    url,
    get indexRequests() {
      return indexRequests;
    },
    close: () => closeServer(server),
  };
}
