/**
 * Listening over the relay's WebSocket (docs/protocol.md "Listen over WebSocket"): each binary
 * message is one whole stored block, text messages are JSON status events. Exposed as an async
 * iterable so a reader can `for await` blocks and events in arrival order.
 * Uses globalThis.WebSocket (browsers, Node ≥ 22) or the `ws` package (Node 20 has none).
 */
import { parseListenMessage, type ListenMessage } from '@mxcast/protocol';
import { ClientError } from './client-error.ts';

/** A block (binary message), or one of the relay's JSON messages (@mxcast/protocol). */
export type ListenEvent = { type: 'block'; bytes: Uint8Array } | ListenMessage;

import type { WebSocketConstructor, WebSocketLike } from '@mxcast/protocol';
export type { WebSocketLike, WebSocketConstructor };

export async function resolveWebSocket(
  given?: WebSocketConstructor,
): Promise<WebSocketConstructor> {
  if (given) return given;
  const g = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (g) return g;
  // Node 20 has no global WebSocket: load `ws` only there, so browsers never bundle it.
  const mod = (await import('ws')) as unknown as { WebSocket: WebSocketConstructor };
  return mod.WebSocket;
}

export class ListenSocket implements AsyncIterable<ListenEvent> {
  private readonly queue: ListenEvent[] = [];
  private waiting: (() => void) | null = null;
  private done = false;
  private failure: ClientError | null = null;

  private constructor(
    private readonly ws: WebSocketLike,
    readonly url: string,
  ) {}

  /** Opens the socket; resolves once it is open, rejects with NETWORK if it cannot open. */
  static open(
    Impl: WebSocketConstructor,
    url: string,
    shownUrl: string,
    timeoutMs?: number,
  ): Promise<ListenSocket> {
    const ws = new Impl(url);
    ws.binaryType = 'arraybuffer';
    const socket = new ListenSocket(ws, shownUrl);
    return new Promise((resolve, reject) => {
      let opened = false;
      // A relay that accepts the connection and never answers the upgrade would hold the open
      // forever: give up after timeoutMs (NETWORK, retryable, so a failover moves on).
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              if (opened) return;
              reject(
                new ClientError(
                  'NETWORK',
                  `listen socket ${shownUrl}: no answer within ${timeoutMs} ms`,
                ),
              );
              try {
                ws.close();
              } catch {
                // Some implementations throw when closed while connecting; it is dropped anyway.
              }
            }, timeoutMs);
      ws.addEventListener('open', () => {
        opened = true;
        clearTimeout(timer);
        resolve(socket);
      });
      ws.addEventListener('message', (ev: { data: unknown }) => socket.onMessage(ev.data));
      ws.addEventListener('error', (ev: unknown) => {
        // `ws` gives an ErrorEvent with a message; a browser's error event has none.
        const message = (ev as { message?: unknown } | null)?.message;
        const err = new ClientError(
          'NETWORK',
          `listen socket ${shownUrl}: ${typeof message === 'string' ? message : 'connection error'}`,
        );
        clearTimeout(timer);
        if (!opened) reject(err);
        else socket.fail(err);
      });
      ws.addEventListener('close', (ev: { code?: number; reason?: string }) => {
        clearTimeout(timer);
        if (!opened) {
          reject(
            new ClientError(
              'NETWORK',
              `listen socket ${shownUrl}: closed before opening (code ${ev.code ?? '?'})`,
            ),
          );
        }
        socket.finish();
      });
    });
  }

  private onMessage(data: unknown): void {
    if (typeof data === 'string') {
      // What the protocol does not define is skipped, as the player does: a newer relay may add
      // message types (docs/protocol.md "Listen over WebSocket").
      const message = parseListenMessage(data);
      if (message) this.push(message);
    } else if (data instanceof ArrayBuffer) {
      this.push({ type: 'block', bytes: new Uint8Array(data) });
    } else if (ArrayBuffer.isView(data)) {
      this.push({
        type: 'block',
        bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      });
    }
  }

  private push(ev: ListenEvent): void {
    this.queue.push(ev);
    this.wake();
  }

  private fail(err: ClientError): void {
    this.failure ??= err;
    this.finish();
  }

  private finish(): void {
    this.done = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = null;
    w?.();
  }

  /** The next event, or null once the socket has closed and every event was read. */
  async next(): Promise<ListenEvent | null> {
    while (true) {
      const ev = this.queue.shift();
      if (ev) return ev;
      if (this.done) {
        if (this.failure) throw this.failure;
        return null;
      }
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ListenEvent> {
    while (true) {
      const ev = await this.next();
      if (ev === null) return;
      yield ev;
    }
  }

  close(): void {
    try {
      this.ws.close(1000);
    } catch {
      // Already closed.
    }
    this.finish();
  }
}
