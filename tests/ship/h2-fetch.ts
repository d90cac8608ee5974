/**
 * A `fetch` over node:http2 that trusts one CA (the test's self-signed certificate): Node's
 * global fetch takes no CA and speaks HTTP/1.1 only, and the deployment is meant to serve
 * browsers over HTTP/2. Enough of fetch for MediaClient: method, headers, a buffered or
 * streaming (ReadableStream) request body, a streaming response body, abort.
 */
import { connect, constants, type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2';
import { pipeline, Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';

export interface H2Fetch {
  fetch: typeof fetch;
  /** The ALPN protocol of each origin's session ('h2' when HTTP/2 was negotiated). */
  protocols(): string[];
  close(): void;
}

export function h2Fetch(ca: string | Buffer): H2Fetch {
  const sessions = new Map<string, ClientHttp2Session>();
  const session = (origin: string) => {
    let s = sessions.get(origin);
    if (!s || s.closed || s.destroyed) {
      s = connect(origin, { ca });
      s.on('error', () => undefined);
      sessions.set(origin, s);
    }
    return s;
  };
  const fetchImpl = async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = init.method ?? 'GET';
    const headers: OutgoingHttpHeaders = {
      [constants.HTTP2_HEADER_METHOD]: method,
      [constants.HTTP2_HEADER_PATH]: url.pathname + url.search,
    };
    new Headers(init.headers).forEach((v, k) => (headers[k] = v));
    const body = init.body;
    const req = session(url.origin).request(headers, { endStream: body == null });
    init.signal?.addEventListener('abort', () => req.close(constants.NGHTTP2_CANCEL));
    if (body instanceof ReadableStream) {
      // A body that fails (the uploader gave up) cancels the stream, as fetch aborts its request.
      pipeline(Readable.fromWeb(body as NodeReadableStream), req, (err) => {
        if (err) req.close(constants.NGHTTP2_CANCEL);
      });
    } else if (body != null) {
      req.end(typeof body === 'string' ? body : Buffer.from(body as Uint8Array));
    }
    const head = await new Promise<Record<string, unknown>>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', reject);
      req.once('close', () => reject(new Error('HTTP/2 stream closed before its response')));
    });
    const status = Number(head[constants.HTTP2_HEADER_STATUS]);
    const out = new Headers();
    for (const [k, v] of Object.entries(head)) if (!k.startsWith(':')) out.append(k, String(v));
    const empty = method === 'HEAD' || status === 204 || status === 304;
    if (empty) req.resume();
    const stream = empty ? null : (Readable.toWeb(req) as ReadableStream<Uint8Array>);
    return new Response(stream, { status, headers: out });
  };
  return {
    fetch: fetchImpl as typeof fetch,
    protocols: () => [...sessions.values()].map((s) => s.alpnProtocol ?? ''),
    close: () => {
      for (const s of sessions.values()) s.close();
    },
  };
}
