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
 * Tokens are looked up where RelayCore.authenticate looks them up: relay.db, or in cluster mode
 * the cluster's token bucket (a revoke on any node then cuts connections on every node).
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
  private checking = false;
  private closed = false;

  constructor(
    private readonly core: RelayCore,
    private readonly logger: RelayLogger,
    intervalMs = RECHECK_MS,
  ) {
    this.timer = setInterval(() => void this.check(), intervalMs);
    this.timer.unref();
  }

  /** The token's user where the relay's own check finds it (undefined: unknown or revoked). */
  private async userOf(hash: string): Promise<string | undefined> {
    // async: a failing lookup (a database closed under a late check) rejects, never throws.
    const replica = this.core.store.replica;
    return replica ? replica.tokenUser(hash) : this.core.db.tokenUser(hash);
  }

  /** Remembers `socket` under the token `req` carries, if the relay knows that token now. */
  track(req: IncomingMessage, socket: Socket): void {
    if (this.core.homeserverAuth || socket.destroyed || this.closed) return;
    const token = tokenOf(req);
    if (!token) return;
    const hash = hashToken(token);
    const sockets = this.byHash.get(hash);
    if (sockets) return this.add(hash, sockets, socket);
    // An unknown token is refused by the route itself: nothing to watch (and a connection whose
    // 401 is on its way must not be cut by the next check).
    this.userOf(hash).then(
      (user) => {
        if (!user || socket.destroyed || this.closed) return;
        let known = this.byHash.get(hash);
        if (!known) this.byHash.set(hash, (known = new Set()));
        this.add(hash, known, socket);
      },
      () => {},
    );
  }

  private add(hash: string, sockets: Set<Socket>, socket: Socket): void {
    if (sockets.has(socket)) return;
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0 && this.byHash.get(hash) === sockets) this.byHash.delete(hash);
    });
  }

  /** Looks the watched tokens up again; destroys the connections of those revoked since. */
  async check(): Promise<void> {
    if (this.checking || this.closed) return;
    this.checking = true;
    let cut = 0;
    try {
      for (const [hash, sockets] of [...this.byHash]) {
        if (this.closed) break;
        // A lookup that fails (the cluster unreachable) proves nothing: keep the connections.
        const user = await this.userOf(hash).catch(() => 'unknown');
        if (user || this.closed) continue;
        this.byHash.delete(hash);
        for (const socket of sockets) {
          socket.destroy();
          cut++;
        }
      }
    } finally {
      this.checking = false;
    }
    if (cut > 0) this.logger.info('token revoked: connections closed', { connections: cut });
  }

  close(): void {
    this.closed = true;
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
