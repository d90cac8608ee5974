/**
 * Everything the routes and the Node adapter share: configuration, database, media store,
 * metrics, and authentication. Built once by startRelay().
 */
import type { Context } from 'hono';
import type { DownloadSink } from '../fanout/download-pump.ts';
import { MediaStore } from './media-store.ts';
import type { RelayConfig } from './relay-config.ts';
import { RelayError } from './relay-error.ts';
import { RelayMetrics } from './relay-metrics.ts';
import { HomeserverAuth } from './homeserver-auth.ts';
import { hashToken } from './token-store.ts';
import { LISTEN_WS_PATH, UPLOAD_WS_PATH } from '@mxcast/protocol';
import { lockDataDir } from '../storage/data-dir-lock.ts';
import { RelayDatabase } from '../storage/relay-database.ts';

/**
 * An adapter's way to answer a download on its own response object (the Node fast path,
 * adapter/node-download-sink.ts); null when it cannot, and the core answers with a web stream.
 */
export type DirectDownload = (
  c: Context,
  status: number,
  headers: Record<string, string>,
) => { sink: DownloadSink; response: Response } | null;

export class RelayCore {
  readonly db: RelayDatabase;
  readonly store: MediaStore;
  readonly metrics = new RelayMetrics();
  /** Base URL used in Location headers; set by the adapter once the port is known. */
  publicUrl = '';
  /** Bytes queued in listeners' sockets right now (set by the adapter; a /metrics gauge). */
  queuedBytes: () => number = () => 0;
  /** Set by the Node adapter; without it downloads are web ReadableStreams. */
  directDownload: DirectDownload | null = null;
  /**
   * The unsent-bytes cap the adapter put on each accepted socket (limits.socketUnsentBytes), or 0
   * when it put none: then the host's TCP settings alone say what a socket takes (history-pacing.ts).
   */
  socketUnsentBytes = 0;
  /** Homeserver mode's token check (auth.homeserver set); null in standalone mode. */
  readonly homeserverAuth: HomeserverAuth | null;

  private readonly unlock: () => void;

  constructor(readonly config: RelayConfig) {
    this.db = new RelayDatabase(config.dataDir);
    try {
      this.unlock = lockDataDir(config.dataDir);
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.store = new MediaStore(config, this.db, this.metrics);
    this.homeserverAuth = config.auth.homeserver
      ? new HomeserverAuth(config.auth.homeserver, config.limits, this.metrics)
      : null;
  }

  /**
   * The user behind a request's access token: `Authorization: Bearer` (Matrix client-server API
   * "Using access tokens"). `?access_token=` only on the WebSocket paths, where a browser cannot
   * set a header; anywhere else it is refused, not ignored: a token in a URL ends up in proxy and
   * browser logs, and a client sending it there should hear so at once (docs/protocol.md).
   * In homeserver mode the token is the homeserver's (whoami, core/homeserver-auth.ts).
   */
  async authenticate(authorization: string | null | undefined, url: URL): Promise<string> {
    const token = tokenOf(authorization, url);
    if (this.homeserverAuth) return this.homeserverAuth.userOf(token);
    // No cache in front of the database: a token revoked by `mxcast token revoke` (another process,
    // WAL) stops working on the very next request.
    // Cluster mode: the cluster's token bucket (also read on every request: revocation is at once).
    const user = this.store.replica
      ? await this.store.replica.tokenUser(hashToken(token))
      : this.db.tokenUser(hashToken(token));
    if (!user) throw new RelayError('M_UNKNOWN_TOKEN', 'unknown access token');
    return user;
  }

  /**
   * For downloads: anonymous unless the config requires a token. Either way a `?access_token=` on
   * an HTTP download is refused (authenticate), so a token never sits in a cacheable URL.
   * Homeserver mode always requires one: Matrix 1.11 authenticated media (MSC3916). Callers look
   * the media up first, so an id the relay does not know is 404 before any token check and nginx
   * falls back to the homeserver for its own media (docs/matrix.md).
   *
   * Undefined when the request may go on at once (anonymous, or a token the whoami cache holds:
   * every download of a keep-alive listener, answered with no promise, so homeserver mode costs
   * a download one hash and one Map lookup more than standalone); a promise when a token must be
   * looked up; throws RelayError when the request is refused at once.
   */
  authorizeDownload(authorization: string | null | undefined, url: URL): Promise<void> | undefined {
    if (this.homeserverAuth) {
      const token = tokenOf(authorization, url);
      if (this.homeserverAuth.cachedUser(token) !== undefined) return undefined;
      return this.homeserverAuth.userOf(token).then(ignore);
    }
    const needed =
      this.config.auth.requireTokenForDownload ||
      (url.searchParams.has('access_token') && !isWebSocketPath(url.pathname));
    return needed ? this.authenticate(authorization, url).then(ignore) : undefined;
  }

  /** Checks the listener limits (per media and relay-wide) before a listener is added. */
  checkListenerLimits(listenersOnMedia: number): void {
    const { maxListeners, maxListenersPerStream } = this.config.limits;
    if (listenersOnMedia >= maxListenersPerStream) {
      throw new RelayError(
        'M_LIMIT_EXCEEDED',
        `this media has ${listenersOnMedia} listeners, the limit is ${maxListenersPerStream}`,
      );
    }
    const total = this.store.wsListeners + this.store.httpListeners;
    if (total >= maxListeners) {
      throw new RelayError(
        'M_LIMIT_EXCEEDED',
        `the relay has ${total} listeners, the limit is ${maxListeners}`,
      );
    }
  }

  async close(): Promise<void> {
    await this.store.close();
    this.db.close();
    this.unlock();
  }
}

const ignore = (): void => {};

/**
 * The access token of a request: `Authorization: Bearer` (Matrix client-server API "Using access
 * tokens"), or `?access_token=` on the WebSocket paths only (RelayCore.authenticate says why).
 */
function tokenOf(authorization: string | null | undefined, url: URL): string {
  const queryToken = url.searchParams.get('access_token');
  if (queryToken !== null && !isWebSocketPath(url.pathname)) {
    throw new RelayError(
      'M_MISSING_TOKEN',
      'access_token in the query is accepted only on the WebSocket paths: send "Authorization: Bearer <token>"',
      { fields: { 'org.matrix.msc4016.reason': 'QUERY_TOKEN_REFUSED' } },
    );
  }
  let token: string | null | undefined;
  if (authorization) {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (!m) throw new RelayError('M_MISSING_TOKEN', 'Authorization header is not "Bearer <token>"');
    token = m[1];
  } else {
    token = queryToken;
  }
  if (!token) throw new RelayError('M_MISSING_TOKEN', 'missing access token');
  return token;
}

/** The listen and upload WebSocket paths: the only ones where a browser cannot send a header. */
function isWebSocketPath(pathname: string): boolean {
  return pathname.startsWith(LISTEN_WS_PATH + '/') || pathname.startsWith(UPLOAD_WS_PATH + '/');
}
