/**
 * The one place the relay touches private fields of ws and node:http. The live path writes a
 * block's prebuilt bytes (fanout/shared-block.ts: one WebSocket frame, one HTTP chunk, framed once
 * for every listener) straight to the connection's net.Socket; doing that next to the library's
 * own writes is only correct under behaviour the libraries do not promise, so each assumption is
 * checked here, pinned by fast-writer.test.ts on the versions in the lockfile, and when it does not
 * hold the writer falls back to the public API (ws.send, res.write): slower, never wrong.
 *
 * Assumptions:
 * - ws (8.x) keeps the upgraded net.Socket in `_socket`, and without permessage-deflate (the
 *   relay's servers never offer it) `ws.send` of a Buffer or string frames and writes it to that
 *   socket synchronously, so a raw frame written between two sends arrives between them.
 * - node:http: `socket._httpMessage` is the response that owns the socket; a response's
 *   `chunkedEncoding` says its body is chunked and `outputSize` counts bytes it holds back (0 once
 *   its head is flushed to the socket) — so a raw chunk written then is in order with res.write.
 * - net.Socket's `destroySoon` (end, then destroy when written) is what node:http calls after a
 *   `Connection: close` answer (lingering-close.ts overrides it per socket).
 */
import type { ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { CarriedStatus, SharedBlock } from '../fanout/shared-block.ts';

/** WebSocket.OPEN (ws's readyState constants are on the class, a value import of ws). */
const OPEN = 1;

/** The upgraded connection under a ws WebSocket, when ws exposes it as a net.Socket. */
export function wsSocket(ws: WebSocket): Socket | null {
  const socket = (ws as unknown as { _socket?: unknown })._socket;
  return socket instanceof Socket ? socket : null;
}

/** Stops reading a WebSocket's connection (what the peer sends stays in kernel buffers). */
export function pauseWsReading(ws: WebSocket): void {
  wsSocket(ws)?.pause();
}

/**
 * A WebSocket listener's output: prebuilt frames written raw when that is safe, else through
 * ws.send; and what backpressure needs (bytes queued, drain, close) from the same place.
 */
export interface FrameWriter {
  /** Whether raw frames go straight to the socket (false: the ws.send fallback). */
  readonly fast: boolean;
  /** Bytes queued to the peer and not yet taken. */
  readonly queued: number;
  /** Past the connection's high-water mark: wait for drained() before queuing more. */
  readonly needsDrain: boolean;
  /** The connection is closed or closing: nothing written now would arrive. */
  readonly gone: boolean;
  /**
   * A block or run of blocks (its prebuilt frame, or each part's bytes through ws.send), and the
   * status its fan-out carries, if any, after it (one write: CarriedStatus.afterBlock).
   */
  writeBlock(block: SharedBlock, status?: CarriedStatus): void;
  /** A prebuilt text frame (shared-block.ts wsTextFrame), or ws.send of its payload. */
  writeText(frame: Buffer): void;
  /** Resolves when the queue drains below the high-water mark, or the connection closes. */
  drained(): Promise<void>;
}

/** Polling interval of the fallback's drained() (ws has no public 'drain'). */
const FALLBACK_DRAIN_POLL_MS = 20;
/** The fallback's high-water mark (net.Socket's default writableHighWaterMark). */
const FALLBACK_HIGH_WATER = 16 * 1024;

/**
 * The writer for `ws`. `forceFallback` is for tests: it takes the public-API path a ws version
 * without the pinned behaviour would get.
 */
export function frameWriter(ws: WebSocket, forceFallback = false): FrameWriter {
  const socket = wsSocket(ws);
  // An extension (permessage-deflate) makes ws.send asynchronous: raw frames would overtake it.
  if (socket && ws.extensions === '' && !forceFallback) return new SocketFrameWriter(ws, socket);
  return new SendFrameWriter(ws);
}

class SocketFrameWriter implements FrameWriter {
  readonly fast = true;

  constructor(
    private readonly ws: WebSocket,
    private readonly socket: Socket,
  ) {}

  get queued(): number {
    return this.socket.writableLength;
  }

  get needsDrain(): boolean {
    return this.socket.writableNeedDrain;
  }

  get gone(): boolean {
    return this.socket.destroyed || this.ws.readyState !== OPEN;
  }

  writeBlock(block: SharedBlock, status?: CarriedStatus): void {
    this.socket.write(status?.block === block ? status.afterBlock : block.frame);
    if (status && status.block !== block) this.socket.write(status.frame);
  }

  writeText(frame: Buffer): void {
    this.socket.write(frame);
  }

  drained(): Promise<void> {
    const socket = this.socket;
    return new Promise((resolve) => {
      const done = () => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.once('drain', done);
      socket.once('close', done);
    });
  }
}

class SendFrameWriter implements FrameWriter {
  readonly fast = false;

  constructor(private readonly ws: WebSocket) {}

  get queued(): number {
    return this.ws.bufferedAmount;
  }

  get needsDrain(): boolean {
    return this.ws.bufferedAmount > FALLBACK_HIGH_WATER;
  }

  get gone(): boolean {
    return this.ws.readyState !== OPEN;
  }

  writeBlock(block: SharedBlock, status?: CarriedStatus): void {
    if (block.count === 1) this.ws.send(block.bytes);
    else for (const part of block.parts) this.ws.send(part.bytes);
    if (status) this.writeText(status.frame);
  }

  writeText(frame: Buffer): void {
    // The frame's payload after its header (RFC 6455 §5.2: 7-bit length, or 126/127 + 2/8 bytes).
    const len7 = (frame[1] ?? 0) & 0x7f;
    const head = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
    this.ws.send(frame.subarray(head).toString('utf8'));
  }

  drained(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.gone || !this.needsDrain) resolve();
        else setTimeout(check, FALLBACK_DRAIN_POLL_MS).unref();
      };
      setTimeout(check, FALLBACK_DRAIN_POLL_MS).unref();
    });
  }
}

/** node:http's private fields read here (stable since node 0.x, not in @types/node). */
interface ResponseInternals {
  outputSize?: unknown;
  chunkedEncoding?: unknown;
}
interface HttpSocket extends Socket {
  _httpMessage?: unknown;
}

/** The response node:http is writing on `socket` now, if any (null between requests). */
export function currentResponse(socket: Socket): { writableEnded: boolean } | null {
  const res = (socket as HttpSocket)._httpMessage;
  return res && typeof res === 'object' && 'writableEnded' in res
    ? (res as { writableEnded: boolean })
    : null;
}

/**
 * Whether a prebuilt HTTP chunk may be written straight to `res`'s socket: the response owns the
 * socket (not a pipelined one waiting its turn), its body is chunked and it holds nothing back.
 * False whenever a field is missing or not what is pinned: the caller then uses res.write.
 */
export function canWriteRawChunk(res: ServerResponse): boolean {
  const socket = res.socket;
  const internals = res as unknown as ResponseInternals;
  return (
    socket !== null &&
    socket.writable &&
    (socket as HttpSocket)._httpMessage === res &&
    internals.chunkedEncoding === true &&
    internals.outputSize === 0
  );
}

/** A live block on a chunked response: one socket write of its prebuilt chunk when safe. */
export function writeChunk(res: ServerResponse, block: SharedBlock): void {
  if (canWriteRawChunk(res)) (res.socket as Socket).write(block.chunk);
  else if (!res.destroyed) res.write(block.bytes);
}

/** net.Socket's destroySoon (not in @types/node), as node:http calls it. */
export type DestroySoon = (this: Socket) => void;

/** Socket.prototype.destroySoon, or null if this node has none (then there is nothing to wrap). */
export function nodeDestroySoon(): DestroySoon | null {
  const fn = (Socket.prototype as unknown as { destroySoon?: unknown }).destroySoon;
  return typeof fn === 'function' ? (fn as DestroySoon) : null;
}

/** Replaces one socket's destroySoon (lingering-close.ts keeps lingering sockets open). */
export function overrideDestroySoon(socket: Socket, fn: DestroySoon): void {
  (socket as unknown as { destroySoon: DestroySoon }).destroySoon = fn;
}
