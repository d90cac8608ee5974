/**
 * N listeners on raw sockets, all in one thread: each socket reads into one shared buffer
 * (net's `onread`, no allocation per read) and feeds a small per-listener state machine
 * that reports each block (or Ogg page) by seq as its last byte arrives. The pool turns
 * those arrivals into relay-added delays (arrival − the uploader's send time of that seq)
 * for the seqs of the measurement window, and counts joins, failures, drops and losses.
 */
import net from 'node:net';
import { ChunkedBodyReader } from './chunked-body-reader.ts';
import { DelayHistogram } from './delay-histogram.ts';
import { FixedBlockTracker } from './fixed-block-tracker.ts';
import { monotonicMs } from './monotonic-clock.ts';
import { OggPageTracker } from './ogg-page-tracker.ts';
import { ResponseHeadReader } from './response-head-reader.ts';
import { WsFrameReader, pongFrame } from './ws-frame-reader.ts';

export type ListenerKind = 'relay-ws' | 'relay-http' | 'icecast-http';

export interface ListenerTarget {
  kind: ListenerKind;
  port: number;
  path: string;
  /** relay-http: constant audio block size and where block 2 starts (after magic + headers). */
  blockBytes?: number;
  headerEnd?: number;
}

export interface JoinResult {
  joined: number;
  failed: number;
  failures: Record<string, number>;
  elapsedMs: number;
}

export interface WindowResult {
  heldAtStart: number;
  dropped: number;
  expectedBlocks: number;
  lostBlocks: number;
  seqGaps: number;
  skippedMessages: number;
}

const readBuffer = Buffer.allocUnsafe(256 * 1024);

class Listener {
  socket: net.Socket | null = null;
  connected = false;
  closed = false;
  held = false;
  received = 0;
  lastSeq = -1;
  gaps = 0;
  push: ((chunk: Uint8Array, start: number, end: number) => void) | null = null;
}

export class ListenerPool {
  readonly histogram = new DelayHistogram();
  /** Each window block's worst delay over the listeners, when traced (a diagnosis run). */
  readonly worstBySeq = new Map<number, number>();
  readonly #traceWorst: boolean;
  readonly #target: ListenerTarget;
  readonly #sendTimes: Float64Array;
  readonly #sentCount: () => number;
  readonly #listeners: Listener[] = [];
  #now = 0;
  #windowStart = Number.POSITIVE_INFINITY;
  #windowEnd = Number.POSITIVE_INFINITY;
  #stopping = false;
  #dropped = 0;
  #skipped = 0;
  #failures: Record<string, number> = {};

  /** `traceWorst`: keep `worstBySeq` (load-generator.ts: MXCAST_BENCH_BLOCK_TRACE). */
  constructor(
    target: ListenerTarget,
    sendTimes: Float64Array,
    sentCount: () => number,
    traceWorst = false,
  ) {
    this.#traceWorst = traceWorst;
    this.#target = target;
    this.#sendTimes = sendTimes;
    this.#sentCount = sentCount;
  }

  /**
   * Connects `n` listeners, at most `concurrency` joining at once, each within `timeoutMs`;
   * no new connection starts after `budgetMs` (those never tried count as `join budget`).
   */
  async join(
    n: number,
    concurrency: number,
    timeoutMs: number,
    budgetMs: number,
  ): Promise<JoinResult> {
    const started = monotonicMs();
    let next = 0;
    let joined = 0;
    const worker = async (): Promise<void> => {
      while (next < n && !this.#stopping && monotonicMs() - started < budgetMs) {
        next++;
        if (await this.#connect(timeoutMs)) joined++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
    if (next < n) this.#failures['join budget'] = n - next;
    const failed = n - joined;
    return { joined, failed, failures: { ...this.#failures }, elapsedMs: monotonicMs() - started };
  }

  /** Blocks with seq ≥ `seq` count from now on. */
  startWindow(seq: number): number {
    this.#windowStart = seq;
    let held = 0;
    for (const l of this.#listeners) {
      l.received = 0;
      l.gaps = 0;
      l.held = l.connected && !l.closed;
      if (l.held) held++;
    }
    this.#dropped = 0;
    return held;
  }

  /** Blocks after `seq` no longer count. */
  endWindow(seq: number): void {
    this.#windowEnd = seq;
  }

  /** Losses of the listeners that were connected when the window started. */
  result(heldAtStart: number): WindowResult {
    const expected = Math.max(0, this.#windowEnd - this.#windowStart + 1);
    let lost = 0;
    let gaps = 0;
    for (const l of this.#listeners) {
      if (!l.held) continue;
      lost += Math.max(0, expected - l.received);
      gaps += l.gaps;
    }
    return {
      heldAtStart,
      dropped: this.#dropped,
      expectedBlocks: expected * heldAtStart,
      lostBlocks: lost,
      seqGaps: gaps,
      skippedMessages: this.#skipped,
    };
  }

  close(): void {
    this.#stopping = true;
    for (const l of this.#listeners) l.socket?.destroy();
  }

  #connect(timeoutMs: number): Promise<boolean> {
    const t = this.#target;
    const l = new Listener();
    this.#listeners.push(l);
    return new Promise<boolean>((resolve) => {
      let settled = false;
      const settle = (ok: boolean, reason?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!ok) {
          this.#failures[reason ?? 'error'] = (this.#failures[reason ?? 'error'] ?? 0) + 1;
          l.closed = true;
          socket.destroy();
        }
        resolve(ok);
      };
      const timer = setTimeout(() => settle(false, 'timeout'), timeoutMs);
      const head = new ResponseHeadReader();
      const socket = net.connect({
        host: '127.0.0.1',
        port: t.port,
        onread: {
          buffer: readBuffer,
          callback: (nread: number, buf: Uint8Array): boolean => {
            this.#now = monotonicMs();
            try {
              if (l.push) {
                l.push(buf, 0, nread);
                return true;
              }
              const h = head.push(buf, 0, nread);
              if (!h) return true;
              const ok =
                t.kind === 'relay-ws' ? h.status === 101 : h.status === 200 || h.status === 206;
              if (!ok) {
                settle(false, `HTTP ${h.status}`);
                return false;
              }
              l.push = this.#bodyReader(l, h.headers, socket);
              l.connected = true;
              settle(true);
              if (h.bodyStart < nread) l.push(buf, h.bodyStart, nread);
            } catch (err) {
              settle(false, (err as { code?: string }).code ?? 'parse');
              this.#drop(l, socket);
              return false;
            }
            return true;
          },
        },
      });
      l.socket = socket;
      socket.on('error', (err: NodeJS.ErrnoException) => settle(false, err.code ?? 'error'));
      socket.on('close', () => {
        settle(false, 'closed');
        this.#drop(l, socket);
      });
      socket.write(this.#request());
    });
  }

  #drop(l: Listener, socket: net.Socket): void {
    if (l.closed) return;
    l.closed = true;
    socket.destroy();
    if (l.held && !this.#stopping) this.#dropped++;
  }

  #request(): string {
    const t = this.#target;
    const host = `Host: 127.0.0.1:${t.port}\r\n`;
    if (t.kind === 'relay-ws') {
      return (
        `GET ${t.path} HTTP/1.1\r\n${host}Upgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: bXhjYXN0LWZhbm91dC0xNg==\r\nSec-WebSocket-Version: 13\r\n\r\n'
      );
    }
    if (t.kind === 'icecast-http') {
      return `GET ${t.path} HTTP/1.0\r\n${host}User-Agent: mxcast-fanout-bench\r\n\r\n`;
    }
    const { seq, offset } = this.#liveEdge();
    return `GET ${t.path} HTTP/1.1\r\n${host}Range: bytes=${offset}-\r\nX-Bench-Seq: ${seq}\r\n\r\n`;
  }

  /** The last block sent (≥ 2) and its offset: an HTTP listener joins there, like Icecast's. */
  #liveEdge(): { seq: number; offset: number } {
    const t = this.#target;
    const seq = Math.max(2, this.#sentCount() - 1);
    return { seq, offset: (t.headerEnd as number) + (seq - 2) * (t.blockBytes as number) };
  }

  #bodyReader(
    l: Listener,
    headers: Map<string, string>,
    socket: net.Socket,
  ): (chunk: Uint8Array, start: number, end: number) => void {
    const onBlock = (seq: number): void => this.#arrived(l, seq);
    const t = this.#target;
    if (t.kind === 'relay-ws') {
      const frames = new WsFrameReader({
        onBlock,
        onPing: (payload) => socket.write(pongFrame(payload)),
        onText: (text) => {
          if (text.includes('"skipped"')) this.#skipped++;
        },
        onClose: () => this.#drop(l, socket),
      });
      return (c, s, e) => frames.push(c, s, e);
    }
    if (t.kind === 'icecast-http') {
      const pages = new OggPageTracker(onBlock);
      return (c, s, e) => pages.push(c, s, e);
    }
    const range = /^bytes (\d+)-/.exec(headers.get('content-range') ?? '');
    const start = range ? Number(range[1]) : 0;
    const firstSeq = 2 + Math.round((start - (t.headerEnd as number)) / (t.blockBytes as number));
    const blocks = new FixedBlockTracker(firstSeq, start, t.blockBytes as number, onBlock);
    if (headers.get('transfer-encoding')?.toLowerCase() === 'chunked') {
      const chunks = new ChunkedBodyReader(
        (_c, s, e) => blocks.add(e - s),
        () => this.#drop(l, socket),
      );
      return (c, s, e) => chunks.push(c, s, e);
    }
    return (_c, s, e) => blocks.add(e - s);
  }

  #arrived(l: Listener, seq: number): void {
    if (l.lastSeq >= 0 && seq !== l.lastSeq + 1) l.gaps++;
    l.lastSeq = seq;
    if (seq < this.#windowStart || seq > this.#windowEnd) return;
    const sent = this.#sendTimes[seq];
    if (sent === undefined || sent === 0) return;
    const delay = this.#now - sent;
    this.histogram.add(delay);
    if (this.#traceWorst && delay > (this.worstBySeq.get(seq) ?? -1))
      this.worstBySeq.set(seq, delay);
    l.received++;
  }
}
