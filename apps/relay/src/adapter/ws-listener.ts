/**
 * A WebSocket listener (docs/protocol.md "Listen over WebSocket"): replays history from the file
 * (from=<seq>, headers=1), then joins the hub at the live edge in the same synchronous step as it
 * reads the block count, so the first live block is exactly the next seq. Live blocks are written
 * to the socket as the block's prebuilt frame (shared-block.ts): one write, no per-listener framing
 * or copy; status messages likewise, as one prebuilt text frame per media. This is safe next to ws's own sends because the server is created without
 * permessage-deflate, so ws writes each message to the socket synchronously, in call order.
 *
 * Backpressure: when the bytes queued in the socket pass the bound, live blocks are skipped (not
 * queued) until the queue drains below half of it; the listener then gets {"type":"skipped"} and
 * continues at the live edge. A stalled listener so costs at most its bound in memory.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { RelayCore } from '../core/relay-core.ts';
import type { EndState, HubListener } from '../fanout/media-hub.ts';
import { wsTextFrame, type SharedBlock } from '../fanout/shared-block.ts';
import type { MediaRecord } from '../storage/media-record.ts';

const HISTORY_BATCH_BYTES = 64 * 1024;
/** WebSocket.OPEN (ws's readyState constants are on the class, a value import of ws). */
const OPEN = 1;

export interface WsListenOptions {
  from: 'live' | number;
  headers: boolean;
}

export class WsListener implements HubListener {
  private nextSeq = 0;
  private skipping = false;
  private closed = false;
  private readonly socket: Socket;
  private readonly bound: number;

  constructor(
    private readonly ws: WebSocket,
    private readonly rec: MediaRecord,
    private readonly core: RelayCore,
    private readonly options: WsListenOptions,
  ) {
    this.socket = (ws as unknown as { _socket: Socket })._socket;
    this.bound = core.config.limits.listenerBacklogBytes;
  }

  start(): void {
    this.rec.wsListeners++;
    this.core.store.wsListeners++;
    this.ws.on('close', () => this.close());
    this.ws.on('error', () => this.close());
    this.onStatus(wsTextFrame(this.rec.statusMessage()));
    this.catchUp().catch(() => this.ws.terminate());
  }

  /** `block` may be a run of blocks (media-hub.ts): one write for all of it, or its parts. */
  onBlock(block: SharedBlock): void {
    const end = block.seq + block.count;
    if (this.closed || end <= this.nextSeq || this.socket.destroyed) return;
    if (block.seq < this.nextSeq) {
      // Joined in the middle of a run: only the blocks it does not have yet.
      for (const part of block.parts) this.onBlock(part);
      return;
    }
    if (this.socket.writableLength > (this.skipping ? this.bound / 2 : this.bound)) {
      if (!this.skipping) this.core.metrics.listenersMoved++;
      this.skipping = true;
      this.nextSeq = end;
      return;
    }
    if (this.skipping) {
      this.skipping = false;
      this.ws.send(JSON.stringify({ type: 'skipped', to_seq: block.seq }));
    }
    this.socket.write(block.frame);
    this.nextSeq = end;
    this.core.metrics.bytesOut += block.bytes.length;
  }

  onEnd(state: EndState): void {
    if (this.closed) return;
    if (this.skipping)
      this.ws.send(JSON.stringify({ type: 'skipped', to_seq: this.rec.blockCount }));
    this.ws.send(JSON.stringify({ type: 'end', state }));
    this.ws.close(1000, state);
    this.close();
  }

  /**
   * `statusFrame` is the status as a text frame, built once per media for all its listeners and
   * written like a block's frame (ws.send would frame it and write twice per listener).
   */
  onStatus(statusFrame: Buffer): void {
    if (this.closed || this.ws.readyState !== OPEN || this.socket.writableLength > this.bound)
      return;
    this.socket.write(statusFrame);
  }

  private async catchUp(): Promise<void> {
    const { rec } = this;
    const from = this.options.from;
    if (this.options.headers && (from === 'live' || from > 0)) {
      const upTo = Math.min(2, from === 'live' ? 2 : from);
      await this.waitForBlocks(upTo);
      await this.sendHistory(0, upTo);
    }
    if (from !== 'live') {
      let seq = from;
      while (!this.closed && seq < rec.blockCount) {
        seq = await this.sendHistory(seq, rec.blockCount);
      }
    }
    if (this.closed) return;
    // Synchronous from here: the live edge and joining the hub cannot be split by a new block.
    this.nextSeq = from === 'live' ? rec.blockCount : Math.max(from, rec.blockCount);
    if (rec.state === 'complete' || rec.state === 'cancelled') this.onEnd(rec.state);
    else rec.hub.add(this);
  }

  /** Waits (via the hub's state notifications) until `count` blocks exist or the media ends. */
  private async waitForBlocks(count: number): Promise<void> {
    while (
      !this.closed &&
      this.rec.blockCount < count &&
      (this.rec.state === 'live' || this.rec.state === 'pending')
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends blocks [seq, until) from the file, at most one batch; resolves to the next seq. */
  private async sendHistory(seq: number, until: number): Promise<number> {
    const { rec } = this;
    const start = rec.offsets.at(seq);
    if (start === undefined || !rec.file || seq >= until) return until;
    let last = seq + 1;
    while (
      last < until &&
      (rec.offsets.at(last + 1) ?? rec.byteLength) - start <= HISTORY_BATCH_BYTES
    )
      last++;
    const end = rec.offsets.at(last) ?? rec.byteLength;
    const bytes = await rec.file.readAt(start, end - start);
    for (let s = seq; s < last && !this.closed; s++) {
      const a = (rec.offsets.at(s) ?? 0) - start;
      const b = (rec.offsets.at(s + 1) ?? rec.byteLength) - start;
      this.ws.send(bytes.subarray(a, b));
      this.core.metrics.bytesOut += b - a;
    }
    if (this.socket.writableLength > this.bound / 2) await this.drained();
    return last;
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.rec.hub.remove(this);
    this.rec.wsListeners--;
    this.core.store.wsListeners--;
  }
}
