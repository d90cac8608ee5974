/**
 * A revoked token also ends the connections it opened (docs/operations.md "Tokens"). The relay
 * checks a token on every request, but an upload in progress or a WebSocket (an uploader's, a
 * listener's) was checked once, when it began, and may last for hours; `mxcast token revoke`
 * runs in another process and only deletes the token's row in relay.db (WAL). So every connection
 * that carried a token the relay knows (`Authorization: Bearer`, or `?access_token=` on the
 * WebSocket paths) is remembered under the token's sha256, and every RECHECK_MS the tokens of
 * open connections are looked up again (one indexed row per distinct token, whatever the number
 * of connections): a token gone from the table gets its connections destroyed. A cut upload
 * keeps every block stored before it, as any cut does (docs/operations.md "Durability").
 * Homeserver mode has no token table (its tokens are the homeserver's, checked by whoami with a
 * cache): nothing is watched there.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { RelayCore } from '../core/relay-core.ts';
import type { RelayLogger } from '../core/relay-log.ts';
import { hashToken } from '../core/token-store.ts';

/** How often the tokens of open connections are looked up again, ms: a revoke's delay bound. */
export const RECHECK_MS = 1000;

/** The access token a request carries, if any (the relay's own parsing decides if it is valid). */
function tokenOf(req: IncomingMessage): string | null {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (m?.[1]) return m[1];
  const q = req.url?.indexOf('access_token=') ?? -1;
  if (q < 0 || !req.url) return null;
  return new URL(req.url, 'http://relay').searchParams.get('access_token');
}

export class TokenRevokeWatch {
  /** Open connections by the sha256 of a valid token they carried. */
  private readonly byHash = new Map<string, Set<Socket>>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly core: RelayCore,
    private readonly logger: RelayLogger,
    intervalMs = RECHECK_MS,
  ) {
    this.timer = setInterval(() => this.check(), intervalMs);
    this.timer.unref();
  }

  /** Remembers `socket` under the token `req` carries, if the relay knows that token now. */
  track(req: IncomingMessage, socket: Socket): void {
    if (this.core.homeserverAuth || socket.destroyed) return;
    const token = tokenOf(req);
    if (!token) return;
    const hash = hashToken(token);
    let sockets = this.byHash.get(hash);
    if (!sockets) {
      // An unknown token is refused by the route itself: nothing to watch (and a connection whose
      // 401 is on its way must not be cut by the next check).
      if (!this.core.db.tokenUser(hash)) return;
      sockets = new Set();
      this.byHash.set(hash, sockets);
    }
    if (sockets.has(socket)) return;
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0 && this.byHash.get(hash) === sockets) this.byHash.delete(hash);
    });
  }

  /** Looks the watched tokens up again; destroys the connections of those revoked since. */
  check(): void {
    let cut = 0;
    for (const [hash, sockets] of this.byHash) {
      if (this.core.db.tokenUser(hash)) continue;
      this.byHash.delete(hash);
      for (const socket of sockets) {
        socket.destroy();
        cut++;
      }
    }
    if (cut > 0) this.logger.info('token revoked: connections closed', { connections: cut });
  }

  close(): void {
    clearInterval(this.timer);
    this.byHash.clear();
  }
}

/** Watches every request and upgrade of `server`; stops when the server closes. */
export function watchRevokedTokens(
  server: Server,
  core: RelayCore,
  logger: RelayLogger,
): TokenRevokeWatch {
  const watch = new TokenRevokeWatch(core, logger);
  server.on('request', (req: IncomingMessage) => watch.track(req, req.socket));
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => watch.track(req, socket));
  server.once('close', () => watch.close());
  return watch;
}
