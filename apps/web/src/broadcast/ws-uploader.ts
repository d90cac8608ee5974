/**
 * The web broadcaster's upload: the relay's WebSocket upload (docs/protocol.md, "WebSocket
 * upload (browsers)").
 *
 * Why not fetch: a streaming request body (`fetch(url, {body: ReadableStream, duplex: 'half'})`)
 * needs HTTP/2 or later in Chromium and is not available at all in Firefox and Safari; a relay
 * on plain HTTP/1.1 (the default `mxcast relay`) cannot receive one. tus PATCH would work but
 * costs one request per flush and its latency. A WebSocket carries each block the moment it is
 * encrypted, over one connection, in every browser, and the relay's acks tell which bytes are
 * stored.
 *
 * Resume: bytes stay queued until acked. When the socket drops, the uploader asks the relay for
 * the stored offset (tus HEAD, always a block boundary), falls back to the last ack, drops what
 * is already stored and reconnects with `offset=N`, resending the rest: a short network drop
 * costs nothing but a little delay.
 */
import {
  FINISH_MESSAGE,
  parseUploadMessage,
  type MediaClient,
  type UploadServerMessage,
} from '@mxcast/client';
import { UNSTABLE_PREFIX, mxcPath } from '@mxcast/client';

export type UploaderState =
  'connecting' | 'open' | 'reconnecting' | 'finishing' | 'complete' | 'failed';

export interface WsUploaderOptions {
  client: MediaClient;
  relayUrl: string;
  accessToken: string;
  mxc: string;
  /**
   * Continue an upload a reloaded tab left (resume-store.ts): the relay's stored offset (tus
   * HEAD, a block boundary); the first byte sent is the file's byte at this offset.
   */
  startOffset?: number;
  /** Give up after this long without a working connection (ms). */
  reconnectWindowMs?: number;
  onState?: (state: UploaderState, detail?: string) => void;
  onAck?: (offset: number, blocks: number) => void;
}

interface Pending {
  start: number;
  bytes: Uint8Array;
}

export class WsUploader {
  readonly #options: WsUploaderOptions;
  #socket: WebSocket | null = null;
  #pending: Pending[] = [];
  #written = 0;
  #acked = 0;
  #state: UploaderState = 'connecting';
  #downSince: number | null = null;
  #attempt = 0;
  #finishWaiter: { resolve: (sha: string) => void; reject: (e: Error) => void } | null = null;
  #closedByUs = false;

  constructor(options: WsUploaderOptions) {
    this.#options = options;
    this.#written = options.startOffset ?? 0;
    this.#acked = this.#written;
  }

  get state(): UploaderState {
    return this.#state;
  }
  get ackedOffset(): number {
    return this.#acked;
  }

  /** Opens the first connection; resolves once the socket is open. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = this.#open(this.#written);
      socket.addEventListener('open', () => resolve(), { once: true });
      socket.addEventListener(
        'close',
        () => reject(new Error('the relay refused the upload connection')),
        {
          once: true,
        },
      );
    });
  }

  /** Queues bytes (the magic or whole blocks, in file order) and sends them if connected. */
  send(bytes: Uint8Array): void {
    const item = { start: this.#written, bytes };
    this.#written += bytes.length;
    this.#pending.push(item);
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(bytes);
  }

  /** Completes the media once every byte is stored; resolves with the relay's sha256. */
  finish(): Promise<string> {
    this.#setState('finishing');
    return new Promise((resolve, reject) => {
      this.#finishWaiter = { resolve, reject };
      this.#maybeSendFinish();
    });
  }

  /** Closes without completing (used after a DELETE). */
  abort(): void {
    this.#closedByUs = true;
    this.#socket?.close(1000, 'cancelled');
    this.#setState('failed', 'cancelled');
  }

  #url(offset: number): string {
    const { relayUrl, accessToken, mxc } = this.#options;
    const q = new URLSearchParams({ access_token: accessToken });
    if (offset > 0) q.set('offset', String(offset));
    const http = `${relayUrl.replace(/\/+$/, '')}${UNSTABLE_PREFIX}/upload/ws/${mxcPath(mxc)}?${q}`;
    return http.replace(/^http/, 'ws');
  }

  #open(offset: number): WebSocket {
    const socket = new WebSocket(this.#url(offset));
    socket.binaryType = 'arraybuffer';
    this.#socket = socket;
    socket.onopen = () => {
      this.#attempt = 0;
      this.#downSince = null;
      this.#setState(this.#finishWaiter ? 'finishing' : 'open');
      for (const item of this.#pending) socket.send(item.bytes);
      this.#maybeSendFinish();
    };
    socket.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== 'string') return;
      // One parser for the relay's upload messages (@mxcast/protocol): one it does not know is skipped.
      const message = parseUploadMessage(event.data);
      if (message) this.#onMessage(message);
    };
    socket.onclose = () => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      if (this.#closedByUs || this.#state === 'complete' || this.#state === 'failed') return;
      this.#reconnectSoon();
    };
    return socket;
  }

  #onMessage(message: UploadServerMessage): void {
    if (message.type === 'ack') {
      this.#acked = message.offset;
      this.#dropStored(message.offset);
      this.#options.onAck?.(message.offset, message.blocks);
      this.#maybeSendFinish();
    } else if (message.type === 'complete') {
      this.#closedByUs = true;
      this.#setState('complete');
      this.#finishWaiter?.resolve(message.sha256);
      this.#socket?.close(1000, 'complete');
    } else if (message.type === 'error') {
      this.#closedByUs = true;
      const text = `${message.errcode}: ${message.error}`;
      this.#setState('failed', text);
      this.#finishWaiter?.reject(new Error(text));
    }
  }

  #dropStored(offset: number): void {
    while (this.#pending.length > 0) {
      const first = this.#pending[0]!;
      if (first.start + first.bytes.length > offset) break;
      this.#pending.shift();
    }
  }

  #maybeSendFinish(): void {
    if (!this.#finishWaiter || this.#pending.length > 0) return;
    if (this.#socket?.readyState === WebSocket.OPEN)
      this.#socket.send(JSON.stringify(FINISH_MESSAGE));
  }

  #reconnectSoon(): void {
    const window = this.#options.reconnectWindowMs ?? 60_000;
    this.#downSince ??= Date.now();
    if (Date.now() - this.#downSince > window) {
      this.#setState('failed', 'the connection to the relay was lost');
      this.#finishWaiter?.reject(new Error('the connection to the relay was lost'));
      return;
    }
    this.#setState('reconnecting');
    const delay = Math.min(250 * 2 ** this.#attempt++, 4000);
    setTimeout(() => void this.#reconnect(), delay);
  }

  async #reconnect(): Promise<void> {
    let offset = this.#acked;
    try {
      // The relay's stored offset is the truth: an ack may have been lost with the connection.
      offset = Math.max(offset, (await this.#options.client.tusOffset(this.#options.mxc)).offset);
    } catch {
      // Still offline (or HEAD unsupported): fall back to the last ack and let the socket fail.
    }
    this.#acked = offset;
    this.#dropStored(offset);
    const first = this.#pending[0];
    const resumeAt = first ? first.start : this.#written;
    this.#open(resumeAt);
  }

  #setState(state: UploaderState, detail?: string): void {
    this.#state = state;
    this.#options.onState?.(state, detail);
  }
}
