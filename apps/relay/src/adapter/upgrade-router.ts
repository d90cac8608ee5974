/**
 * WebSocket upgrades (RFC 6455 §4) on the relay's HTTP server: the listen and upload paths are
 * checked (media, auth, limits, offset, the owner's live-media quota) BEFORE the handshake, so a
 * refusal is an ordinary HTTP response carrying the Matrix error JSON, built by the same
 * errorParts as every Hono answer (core/relay-error.ts, written raw by raw-error.ts). Listeners and uploads have separate WebSocketServers:
 * a listener may send only tiny control messages (listener-inbound-guard.ts), an upload whole blocks.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import { cancelledError } from '../core/media-store.ts';
import type { RelayCore } from '../core/relay-core.ts';
import { RelayError, toRelayError } from '../core/relay-error.ts';
import { LISTEN_WS_PATH, UPLOAD_WS_PATH } from '@mxcast/protocol';
import { RESPONSE_HEADERS } from '../core/response-headers.ts';
import { UploadSession } from '../core/upload-session.ts';
import { guardListenerInbound } from './listener-inbound-guard.ts';
import { refuseUpgrade } from './raw-error.ts';
import { WsListener } from './ws-listener.ts';
import { attachWsUpload } from './ws-upload.ts';

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface UpgradeServers {
  listeners: WebSocketServer;
  uploads: WebSocketServer;
}

export function createUpgradeHandler(core: RelayCore, servers: UpgradeServers): UpgradeHandler {
  // The 101 carries the headers of every relay response too (core/response-headers.ts).
  const common = Object.entries(RESPONSE_HEADERS).map(([k, v]) => `${k}: ${v}`);
  for (const wss of [servers.listeners, servers.uploads])
    wss.on('headers', (headers: string[]) => headers.push(...common));
  return (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    try {
      const url = new URL(req.url ?? '/', 'http://relay');
      const listen = matchMediaPath(url.pathname, LISTEN_WS_PATH);
      const upload = matchMediaPath(url.pathname, UPLOAD_WS_PATH);
      if (listen) {
        // ack=1: the broadcaster's own acknowledgement socket (docs/protocol.md "Listen over
        // WebSocket"), honoured only for the media's owner and left out of its listener count.
        const ack = url.searchParams.get('ack') === '1';
        const options = {
          from: parseFrom(url.searchParams.get('from')),
          headers: url.searchParams.get('headers') === '1',
          ack,
        };
        // Async while a reloaded finished media is checked (MediaStore.requireReadable) and,
        // in homeserver mode, while the token is checked (core/homeserver-auth.ts).
        core.store
          .requireReadable(listen.server, listen.id)
          .then(async (rec) => {
            await core.authorizeDownload(req.headers.authorization, url);
            const user = ack ? await core.authenticate(req.headers.authorization, url) : undefined;
            if (rec.state === 'cancelled') throw cancelledError(rec);
            if (ack && rec.owner !== user)
              throw new RelayError('M_FORBIDDEN', 'ack=1 is only for the creator of this media');
            core.checkListenerLimits(rec.listeners);
            servers.listeners.handleUpgrade(req, socket, head, (ws) => {
              guardListenerInbound(ws, core.config.limits, core.metrics);
              new WsListener(ws, rec, core, options).start();
            });
          })
          .catch((err: unknown) => {
            const e = toRelayError(err);
            core.metrics.countError(e.code);
            refuseUpgrade(socket, e);
          });
      } else if (upload) {
        const offsetParam = url.searchParams.get('offset') ?? '0';
        if (!/^\d{1,15}$/.test(offsetParam))
          throw new RelayError(
            'M_INVALID_PARAM',
            `offset must be an integer, got '${offsetParam}'`,
          );
        core
          .authenticate(req.headers.authorization, url)
          .then(async (user) => {
            // Cluster mode: a media another node created is adopted before it is looked up
            // (core/cluster-replica.ts); nothing in embedded mode.
            await core.store.adopt(upload.server, upload.id);
            if (socket.destroyed) return; // gone while its token was checked
            const rec = core.store.require(upload.server, upload.id);
            const session = UploadSession.open(
              core.store,
              core.config,
              rec,
              user,
              Number(offsetParam),
            );
            socket.once('close', () => session.close());
            session.onPreempt(() => socket.destroy());
            servers.uploads.handleUpgrade(req, socket, head, (ws) =>
              attachWsUpload(ws, session, core),
            );
          })
          .catch((err: unknown) => {
            const e = toRelayError(err);
            core.metrics.countError(e.code);
            refuseUpgrade(socket, e);
          });
      } else {
        throw new RelayError(
          'M_UNRECOGNIZED',
          `no WebSocket endpoint at ${url.pathname.slice(0, 200)}`,
        );
      }
    } catch (err) {
      const e = toRelayError(err);
      core.metrics.countError(e.code);
      refuseUpgrade(socket, e);
    }
  };
}

function matchMediaPath(pathname: string, prefix: string): { server: string; id: string } | null {
  if (!pathname.startsWith(prefix + '/')) return null;
  const parts = pathname.slice(prefix.length + 1).split('/');
  if (parts.length !== 2) throw new RelayError('M_NOT_FOUND', 'expected /{serverName}/{mediaId}');
  try {
    return { server: decodeURIComponent(parts[0] ?? ''), id: decodeURIComponent(parts[1] ?? '') };
  } catch {
    throw new RelayError('M_NOT_FOUND', 'malformed media path');
  }
}

function parseFrom(v: string | null): 'live' | number {
  if (v === null || v === 'live') return 'live';
  if (!/^\d{1,10}$/.test(v))
    throw new RelayError(
      'M_INVALID_PARAM',
      `from must be 'live' or a block seq, got '${v.slice(0, 40)}'`,
    );
  return Number(v);
}
