/**
 * Blocks over the relay's listen WebSocket (docs/protocol.md "Listen over WebSocket"): each
 * binary message is one whole stored block; text messages carry status, `skipped` and `end`.
 * Takes any WHATWG-shaped WebSocket constructor (the browser's, or `ws` in Node via node.ts),
 * so this file stays free of Node imports.
 */
import { relayFailureOf } from '@mxcast/client';
import { BlockFramer, type ByteOrder, isFormatError } from '@mxcast/format';
import { parseListenMessage } from '@mxcast/protocol';
import type {
  BlockSource,
  BlockSourceEvents,
  SourceBlock,
  SourceEnd,
  SourceStart,
} from './block-source.ts';
import { PlayerError, playerCodeOf } from './player-error.ts';
import { listenSocketUrl, type MediaLocation } from './relay-index.ts';

import type { WebSocketConstructor, WebSocketLike } from '@mxcast/protocol';
export type { WebSocketLike, WebSocketConstructor };

export interface WsBlockSourceOptions extends BlockSourceEvents {
  location: MediaLocation;
  WebSocket?: WebSocketConstructor;
  maxBlockLength?: number;
  byteOrder?: ByteOrder;
  /**
   * Longest wait, ms, for the socket's first message (the relay sends its status first:
   * docs/protocol.md "Listen over WebSocket"); then it fails as NETWORK (retryable), so a hung
   * node is left for the next one. None: no bound.
   */
  answerTimeoutMs?: number;
}

type Item =
  | { kind: 'block'; data: Uint8Array }
  | { kind: 'skipped'; toSeq: number }
  | { kind: 'end'; state: 'complete' | 'cancelled' }
  | { kind: 'close'; code: number; reason: string }
  | { kind: 'error'; error: PlayerError };

export class WsBlockSource implements BlockSource {
  readonly transport = 'ws';
  byteOrder: ByteOrder | undefined;
  readonly #options: WsBlockSourceOptions;

  constructor(options: WsBlockSourceOptions) {
    this.#options = options;
    this.byteOrder = options.byteOrder;
  }

  async *blocks(start: SourceStart, signal: AbortSignal): AsyncGenerator<SourceBlock, SourceEnd> {
    const Ctor =
      this.#options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Ctor)
      throw new PlayerError('BAD_REQUEST', 'no WebSocket implementation (pass options.WebSocket)', {
        fatal: true,
      });
    // from=<seq> replays then goes on live; headers=1 adds blocks 0 and 1 when starting past them.
    const url =
      start.kind === 'live'
        ? listenSocketUrl(this.#options.location, start.fromSeq ?? 'live', true)
        : listenSocketUrl(this.#options.location, start.seq, false);
    this.#options.onRequest?.();
    const socket = new Ctor(url);
    socket.binaryType = 'arraybuffer';
    const queue: Item[] = [];
    let wake: (() => void) | undefined;
    const put = (item: Item) => {
      queue.push(item);
      wake?.();
    };
    // A node that accepts the connection (or even the upgrade) and never sends: give up on it.
    const ms = this.#options.answerTimeoutMs;
    let silent =
      ms === undefined
        ? undefined
        : setTimeout(() => {
            put({
              kind: 'error',
              error: new PlayerError(
                'NETWORK',
                `listen socket: ${new URL(url).host} did not answer within ${ms} ms`,
                { fatal: false },
              ),
            });
          }, ms);
    socket.addEventListener('message', (event) => {
      clearTimeout(silent);
      silent = undefined;
      const data = event.data;
      if (typeof data === 'string') {
        // @mxcast/protocol's one parser; a message it does not know is skipped (a newer relay).
        const msg = parseListenMessage(data);
        if (msg?.type === 'status') {
          this.#options.onLiveEdge?.(msg.block_count);
          if (msg.interrupted !== undefined) this.#options.onInterrupted?.(msg.interrupted);
        } else if (msg?.type === 'skipped') put({ kind: 'skipped', toSeq: msg.to_seq });
        else if (msg?.type === 'end') {
          this.#options.onInterrupted?.(false); // ended: no longer "interrupted"
          put({ kind: 'end', state: msg.state });
        } else if (msg?.type === 'error') {
          // No HTTP status here: the errcode alone names the failure (docs/errors.md).
          const code = playerCodeOf(relayFailureOf(-1, msg.errcode));
          put({
            kind: 'error',
            error: new PlayerError(code, `listen socket: ${msg.errcode} ${msg.error}`, {
              fatal: true,
              errcode: msg.errcode,
            }),
          });
        }
      } else if (data instanceof ArrayBuffer) put({ kind: 'block', data: new Uint8Array(data) });
      else if (ArrayBuffer.isView(data))
        put({ kind: 'block', data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    });
    socket.addEventListener('close', (event) =>
      put({ kind: 'close', code: event.code, reason: event.reason }),
    );
    socket.addEventListener('error', () => {
      /* the close event that follows says what happened */
    });
    const onAbort = () => {
      socket.close(1000, 'player stopped');
      // Not waiting for the close handshake: a hung peer may never finish it.
      wake?.();
    };
    signal.addEventListener('abort', onAbort);
    let ended: SourceEnd | undefined;
    try {
      for (;;) {
        if (signal.aborted) throw signal.reason;
        const item = queue.shift();
        if (!item) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        if (item.kind === 'block') yield this.#parse(item.data);
        // In order with the blocks: a skip applies after the blocks sent before it were handled.
        else if (item.kind === 'skipped') this.#options.onSkipped?.(item.toSeq);
        else if (item.kind === 'end') ended = { kind: 'ended', state: item.state };
        else if (item.kind === 'error') throw item.error;
        else {
          if (ended) return ended;
          if (signal.aborted) throw signal.reason;
          // 1008 policy / 4xxx application codes: the relay refused this listener.
          if (item.code === 1008 || (item.code >= 4400 && item.code < 4500)) {
            // 4xxx carries the HTTP status (4404, 4429 …); 1008 is a policy refusal.
            const code =
              item.code === 1008 ? 'REFUSED' : playerCodeOf(relayFailureOf(item.code - 4000));
            throw new PlayerError(code, `listen socket closed ${item.code} ${item.reason}`, {
              fatal: true,
            });
          }
          throw new PlayerError(
            'NETWORK',
            `listen socket closed (${item.code}${item.reason ? ` ${item.reason}` : ''})`,
            { fatal: false },
          );
        }
      }
    } finally {
      clearTimeout(silent);
      signal.removeEventListener('abort', onAbort);
      if (socket.readyState <= 1) socket.close(1000, 'done');
    }
  }

  /** One message is one whole block: frame it on its own (no magic, any seq: the player checks order). */
  #parse(data: Uint8Array): SourceBlock {
    const framer = new BlockFramer({
      expectMagic: false,
      ...(this.byteOrder ? { byteOrder: this.byteOrder } : {}),
      ...(this.#options.maxBlockLength ? { maxBlockLength: this.#options.maxBlockLength } : {}),
    });
    try {
      const blocks = framer.push(data);
      const block = blocks[0];
      if (blocks.length !== 1 || !block || !framer.atBoundary) {
        throw new PlayerError(
          'TAMPERED',
          `listen socket message of ${data.length} bytes is not exactly one block`,
          { fatal: true },
        );
      }
      this.byteOrder = block.byteOrder;
      return {
        seq: block.seq,
        offset: null,
        size: block.bytes.length,
        ciphertext: block.ciphertext,
        byteOrder: block.byteOrder,
      };
    } catch (err) {
      if (isFormatError(err))
        throw new PlayerError('TAMPERED', `listen socket block: ${err.message}`, {
          fatal: true,
          cause: err,
        });
      throw err;
    }
  }
}
