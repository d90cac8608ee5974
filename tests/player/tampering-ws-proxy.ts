/**
 * A hostile relay over WebSocket, for tests: a proxy in front of a real relay that accepts the
 * player's listen WebSocket (docs/protocol.md "Listen over WebSocket"), opens one to the relay
 * with the same path and query, and passes each relay message through a tamperer — binary
 * messages are whole blocks, so it can flip bits, duplicate, reorder, drop, splice, cut, or
 * inject status text such as `skipped` and `end`. Plain HTTP (the index a reconnecting player
 * asks) is passed through, optionally rewritten.
 */
import { createServer, type Server } from 'node:http';
import { parseBlockHeader } from '@mxcast/format';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { answerWith, closeServer, fetchUpstream, listenLoopback } from './proxy-kit.ts';

/** One relay message as the tamperer sees it. */
export type WsMessage =
  { kind: 'block'; seq: number; bytes: Uint8Array } | { kind: 'text'; text: string };

/** What to send the player instead: blocks (bytes), text, or a close of the connection. */
export type WsOut = Uint8Array | string | { close: number };

/** Called for each relay message of one connection, in order; returns what the player gets. */
export type WsTamper = (msg: WsMessage) => WsOut[];

export interface TamperingWsProxy {
  url: string;
  /** Listen WebSockets the player opened so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/**
 * `tamperFor(url)` makes a fresh tamperer for each connection (its state — a held or remembered
 * block — is per connection); `url` has the player's `from=` and `headers=`.
 */
export async function startTamperingWsProxy(
  upstream: string,
  tamperFor: (url: URL) => WsTamper,
  rewriteIndex?: (index: Record<string, unknown>) => Record<string, unknown>,
): Promise<TamperingWsProxy> {
  const wsUpstream = upstream.replace(/^http/, 'ws');
  let connections = 0;
  const server: Server = createServer((req, res) => {
    answerWith(res, async () => {
      const up = await fetchUpstream(upstream, req);
      let body = Buffer.from(await up.arrayBuffer());
      if ((req.url ?? '').includes('/index/') && rewriteIndex && up.ok)
        body = Buffer.from(JSON.stringify(rewriteIndex(JSON.parse(body.toString()))));
      return { up, body };
    });
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (client, req) => {
    connections++;
    const tamper = tamperFor(new URL(req.url ?? '/', 'http://proxy'));
    const relay = new WebSocket(wsUpstream + (req.url ?? '/'));
    let closed = false;
    const closeBoth = (code: number) => {
      if (closed) return;
      closed = true;
      // 1005/1006 cannot be sent in a close frame: an abnormal end is a dropped connection.
      if (code === 1005 || code === 1006) client.terminate();
      else client.close(code);
      relay.terminate();
    };
    relay.on('message', (data: RawData, isBinary: boolean) => {
      if (closed) return;
      // binaryType is ws's default 'nodebuffer': one Buffer per message.
      const bytes = new Uint8Array(data as Buffer);
      const msg: WsMessage = isBinary
        ? { kind: 'block', seq: parseBlockHeader(bytes, 0, 'be').seq, bytes }
        : { kind: 'text', text: Buffer.from(bytes).toString() };
      for (const out of tamper(msg)) {
        if (typeof out === 'string') client.send(out);
        else if (out instanceof Uint8Array) client.send(out, { binary: true });
        else return closeBoth(out.close);
      }
    });
    relay.on('close', (code) => closeBoth(code));
    relay.on('error', () => closeBoth(1006));
    client.on('close', () => closeBoth(1000));
    client.on('error', () => closeBoth(1006));
  });
  const url = await listenLoopback(server);
  return {
    url,
    get connections() {
      return connections;
    },
    close: () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      return closeServer(server);
    },
  };
}
