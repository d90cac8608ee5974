/**
 * One log line per request and per WebSocket, when it ends (docs/operations.md "Logging"):
 * method, route template, status, Matrix errcode, bytes in and out, duration. The route is a
 * template (`/_matrix/client/v1/media/download/:server/:id/:fileName`), never the path: a file
 * name may be a title, and the query (where an `access_token` may ride) is never read. The
 * remote address is a listener's identity: it is logged at debug only.
 *
 * Limits hit (M_LIMIT_EXCEEDED, M_TOO_LARGE) are logged at warn, 5xx answers at error, the rest
 * at info; the errcode comes from the core's Matrix error body (relay-app.ts answers every error
 * with one), read from a clone before node writes the response.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import {
  CREATE_PATH,
  DOWNLOAD_PATH,
  HLS_PATH,
  INDEX_PATH,
  LISTEN_WS_PATH,
  MEDIA_PATH,
  TUS_PATH,
  UPLOAD_PATH,
  UPLOAD_WS_PATH,
} from '@mxcast/protocol';
import type { LogLevel, RelayLogger } from '../core/relay-log.ts';

/** Longest first, so `…/upload/ws` is not taken for a media path under `…/upload`. */
const MEDIA_PREFIXES = [
  UPLOAD_WS_PATH,
  LISTEN_WS_PATH,
  HLS_PATH,
  MEDIA_PATH,
  INDEX_PATH,
  TUS_PATH,
  DOWNLOAD_PATH,
  UPLOAD_PATH,
].sort((a, b) => b.length - a.length);
const PARAMS = [':server', ':id'];
const FIXED = new Set([CREATE_PATH, TUS_PATH, '/health', '/metrics']);

/** The route a path is served by, with its media ids and file names replaced by names. */
export function routeTemplate(rawUrl: string | undefined): string {
  const path = (rawUrl ?? '/').split('?')[0] ?? '/';
  if (FIXED.has(path)) return path;
  for (const prefix of MEDIA_PREFIXES) {
    if (!path.startsWith(prefix + '/')) continue;
    const parts = path.slice(prefix.length + 1).split('/');
    const names = parts.map((p, i) =>
      i < PARAMS.length ? PARAMS[i] : p === 'playlist.m3u8' ? p : ':fileName',
    );
    return `${prefix}/${names.join('/')}`;
  }
  // The web app (static files) or an unknown path: neither is worth its path in the log.
  return path.startsWith('/_matrix/') ? '/_matrix/(unrecognized)' : '/(static)';
}

/** The errcode of a Matrix error answer, if `res` is one (read from a clone; small bodies only). */
export async function errcodeOf(res: Response): Promise<string | undefined> {
  if (res.status < 400 || !res.headers.get('content-type')?.includes('json')) return undefined;
  try {
    const body = (await res.clone().json()) as { errcode?: unknown };
    return typeof body.errcode === 'string' ? body.errcode.slice(0, 64) : undefined;
  } catch {
    return undefined;
  }
}

const LIMIT_CODES = new Set(['M_LIMIT_EXCEEDED', 'M_TOO_LARGE']);

function levelFor(status: number, errcode: string | undefined): LogLevel {
  if (status >= 500) return 'error';
  if (errcode && LIMIT_CODES.has(errcode)) return 'warn';
  return 'info';
}

/** Logs `req` once its response is finished or its connection is gone. */
export function logRequest(
  req: IncomingMessage,
  res: ServerResponse,
  logger: RelayLogger,
  errcode: () => string | undefined,
): void {
  const started = performance.now();
  const socket = req.socket;
  const read0 = socket.bytesRead;
  const written0 = socket.bytesWritten;
  res.once('close', () => {
    const code = errcode();
    logger.log(levelFor(res.statusCode, code), 'request', {
      method: req.method,
      route: routeTemplate(req.url),
      status: res.statusCode,
      errcode: code,
      bytes_in: socket.bytesRead - read0,
      bytes_out: socket.bytesWritten - written0,
      ms: Math.round(performance.now() - started),
      aborted: res.writableFinished ? undefined : true,
      remote: logger.enabled('debug') ? socket.remoteAddress : undefined,
    });
  });
}

/**
 * Logs a WebSocket (listen or upload) when its socket closes, with the status of its answer:
 * 101, or the refusal upgrade-router.ts wrote raw (a listener limit hit is a 429 here, at warn).
 */
export function logUpgrade(req: IncomingMessage, socket: Socket, logger: RelayLogger): void {
  const started = performance.now();
  const read0 = socket.bytesRead;
  const written0 = socket.bytesWritten;
  const answer = sniffAnswer(socket);
  socket.once('close', () => {
    const { status, errcode } = answer();
    logger.log(status === undefined ? 'info' : levelFor(status, errcode), 'websocket', {
      route: routeTemplate(req.url),
      status,
      errcode,
      bytes_in: socket.bytesRead - read0,
      bytes_out: socket.bytesWritten - written0,
      ms: Math.round(performance.now() - started),
      remote: logger.enabled('debug') ? socket.remoteAddress : undefined,
    });
  });
}

/**
 * The status line and errcode of the first thing written to an upgrade socket (the handshake
 * or a raw refusal, both one write of a string). The socket's own write and end are put back
 * after that first write, so frames to a listener never pass through here.
 */
function sniffAnswer(socket: Socket): () => { status?: number; errcode?: string } {
  let head: string | null = null;
  const { write, end } = socket;
  const restore = () => {
    socket.write = write;
    socket.end = end;
  };
  const look = (chunk: unknown) => {
    if (head !== null) return;
    head =
      typeof chunk === 'string' || Buffer.isBuffer(chunk) ? chunk.toString().slice(0, 4096) : '';
    restore();
  };
  socket.write = function (this: Socket, chunk: unknown, ...rest: unknown[]) {
    look(chunk);
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as Socket['write'];
  socket.end = function (this: Socket, chunk?: unknown, ...rest: unknown[]) {
    look(chunk);
    return (end as (...a: unknown[]) => Socket).call(this, chunk, ...rest);
  } as Socket['end'];
  return () => {
    restore();
    const text = head ?? '';
    const status = /^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1];
    const errcode = /"errcode"\s*:\s*"(M_[A-Z_]{1,60})"/.exec(text)?.[1];
    return { status: status === undefined ? undefined : Number(status), errcode };
  };
}

/**
 * Connections refused at accept (connection-limiter.ts), by the limit that refused them: the
 * first is logged at once, the rest as one count per interval, so a connection flood cannot
 * flood the log (mxcast_connections_refused_total counts every one).
 */
export class RefusedConnectionsLog {
  private readonly counts = new Map<string, number>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly logger: RelayLogger,
    private readonly intervalMs = 10_000,
  ) {}

  add(limit: 'maxConnections' | 'maxConnectionsPerAddress'): void {
    this.counts.set(limit, (this.counts.get(limit) ?? 0) + 1);
    if (this.timer) return;
    this.flush();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, this.intervalMs);
    this.timer.unref?.();
  }

  /** Logs what was counted since the last line (also at close). */
  flush(): void {
    for (const [limit, refused] of this.counts)
      this.logger.warn('limit', { limit, refused, what: 'connections refused at accept' });
    this.counts.clear();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.flush();
  }
}
