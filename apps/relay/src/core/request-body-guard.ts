/**
 * Which requests may carry a body, and how much of one (docs/operations.md "Limits"). Only the
 * uploads stream bodies (PUT upload, tus PATCH: bounded by maxMediaBytes, uploadIdleTimeoutMs and
 * maxLiveDurationMs); create and tus creation take a small JSON body (maxJsonBodyBytes, whole within
 * requestTimeoutMs); every other request takes none and is refused as soon as its headers say it
 * has one, before a byte of it is read. Every refusal carries `Connection: close`: the rest of the
 * body is never read, and the Node adapter closes the connection (lingering-close.ts) instead of
 * letting node drain an endless body to keep the connection alive.
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { RelayLimits } from './relay-config.ts';
import { RelayError } from './relay-error.ts';
import { CREATE_PATH, TUS_PATH, UPLOAD_PATH } from '@mxcast/protocol';

export type BodyKind = 'stream' | 'json' | 'none';

const REASON = 'org.matrix.msc4016.reason';
const CLOSE = { connection: 'close' };

/** What body a request to `method pathname` may have. */
export function bodyKind(method: string, pathname: string): BodyKind {
  if (method === 'PUT' && pathname.startsWith(UPLOAD_PATH + '/')) return 'stream';
  if (method === 'PATCH' && pathname.startsWith(TUS_PATH + '/')) return 'stream';
  if (method === 'POST' && (pathname === CREATE_PATH || pathname === TUS_PATH)) return 'json';
  if (method === 'POST' && pathname.startsWith(TUS_PATH + '/')) return 'json';
  return 'none';
}

/** RFC 9112 §6.3: a request has a body iff it has Transfer-Encoding or a non-zero Content-Length. */
export function declaresBody(headers: Headers): boolean {
  if (headers.has('transfer-encoding')) return true;
  const length = headers.get('content-length');
  return length !== null && length.trim() !== '0';
}

/**
 * The Hono middleware: refuses bodies where none belongs, bounds JSON bodies in size (Hono's own
 * bodyLimit, which counts a chunked body as it reads and stops at the limit) and in time.
 */
export function requestBodyGuard(limits: RelayLimits): MiddlewareHandler {
  const tooLarge = () => {
    throw new RelayError(
      'M_TOO_LARGE',
      `request body is over the limit of ${limits.maxJsonBodyBytes} bytes`,
      { fields: { [REASON]: 'BODY_TOO_LARGE' }, headers: CLOSE },
    );
  };
  const limit = bodyLimit({ maxSize: limits.maxJsonBodyBytes, onError: tooLarge });
  return async (c, next) => {
    const kind = bodyKind(c.req.method, c.req.path);
    if (kind === 'stream') return next();
    if (kind === 'none') {
      if (!declaresBody(c.req.raw.headers)) return next();
      throw new RelayError('M_TOO_LARGE', `${c.req.method} on this path takes no request body`, {
        fields: { [REASON]: 'BODY_NOT_ALLOWED' },
        headers: CLOSE,
      });
    }
    if (!c.req.raw.body) return next();
    // The body is read whole here (bodyLimit checks Content-Length first, or counts a chunked
    // body) and the request replaced by one holding it, unread, as bodyLimit itself does: the
    // route (and any bodyLimit of its own) reads that. The deadline bounds a trickled body.
    await withDeadline(
      limits.requestTimeoutMs,
      limit(c, async () => {
        const bytes = await c.req.raw.arrayBuffer();
        c.req.raw = new Request(c.req.raw, { body: bytes });
      }),
    );
    return next();
  };
}

async function withDeadline(ms: number, work: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new RelayError('M_LIMIT_EXCEEDED', `request body not received within ${ms} ms`, {
            status: 408,
            fields: { [REASON]: 'REQUEST_TIMEOUT' },
            headers: CLOSE,
          }),
        ),
      ms,
    );
  });
  try {
    await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
