/**
 * A WebSocket listener (docs/protocol.md "Listen over WebSocket"): replays history from the file
 * (from=<seq>, headers=1), then joins the hub at the live edge in the same synchronous step as it
 * reads the block count, so the first live block is exactly the next seq. Live blocks are written
 * to the socket as the block's prebuilt frame (shared-block.ts): one write, no per-listener framing
 * or copy; status messages likewise, as one prebuilt text frame per media. That is safe next to
 * ws's own sends only under ws behaviour fast-writer.ts checks and pins (else it uses ws.send).
 *
 * Backpressure: when the bytes queued in the socket pass the bound, live blocks are skipped (not
 * queued) until the queue drains below half of it; the listener then gets {"type":"skipped"} and
 * continues at the live edge. A stalled listener so costs at most its bound in memory, and one
 * that stays past the bound (skipping) for limits.listenerStallMs is cut: it takes nothing.
 * History is paced (fanout/history-pacer.ts): one batch of limits.historyReadBytes at a time,
 * reserved in the relay-wide history budget, and a listener whose socket takes nothing for
 * limits.listenerStallMs is dropped (docs/operations.md "Listeners and memory").
 */
import type { ListenMessage } from '@mxcast/protocol';
import type { WebSocket } from 'ws';
import { historyPacingOf } from '../core/history-pacing.ts';
import type { RelayCore } from '../core/relay-core.ts';
import { HistoryPacer } from '../fanout/history-pacer.ts';
import type { EndReason, EndState, HubListener } from '../fanout/media-hub.ts';
import { wsTextFrame, type CarriedStatus, type SharedBlock } from '../fanout/shared-block.ts';
import type { MediaRecord } from '../storage/media-record.ts';
import { frameWriter, type FrameWriter } from './fast-writer.ts';

export interface WsListenOptions {
  from: 'live' | number;
  headers: boolean;
  /**
   * The owner's acknowledgement socket (`ack=1`): counted relay-wide (it holds a socket) but not
   * in the media's `listeners`, which tells listeners how many others hear the broadcast.
   */
  ack?: boolean;
}

export class WsListener implements HubListener {
  private nextSeq = 0;
  private skipping = false;
  /** When the listener last went past its backlog bound (skipping since). */
  private skippingSince = 0;
  private closed = false;
  private readonly out: FrameWriter;
  /** Uncounts this listener (MediaRecord.join); set by start(). */
  private leave: () => void = () => {};
  private readonly bound: number;
  private readonly pacer: HistoryPacer;

  constructor(
    private readonly ws: WebSocket,
    private readonly rec: MediaRecord,
    private readonly core: RelayCore,
    private readonly options: WsListenOptions,
  ) {
    this.out = frameWriter(ws);
    this.bound = core.config.limits.listenerBacklogBytes;
    this.pacer = new HistoryPacer(historyPacingOf(core));
  }

  start(): void {
    this.leave = this.rec.join(this.options.ack ? 'ack' : 'ws');
    this.ws.on('close', () => this.close());
    this.ws.on('error', () => this.close());
    this.onStatus(wsTextFrame(this.rec.statusMessage()));
    this.catchUp().catch(() => this.ws.terminate());
  }

  /**
   * `block` may be a run of blocks (media-hub.ts): one write for all of it, or its parts; `status`,
   * a status the fan-out carries, goes in the same write (or after the parts).
   */
  onBlock(block: SharedBlock, status?: CarriedStatus): void {
    const end = block.seq + block.count;
    if (this.closed || this.out.gone) return;
    if (end <= this.nextSeq) {
      if (status) this.onStatus(status.frame);
      return;
    }
    if (block.seq < this.nextSeq) {
      // Joined in the middle of a run: only the blocks it does not have yet.
      for (const part of block.parts) this.onBlock(part);
      if (status) this.onStatus(status.frame);
      return;
    }
    if (this.out.queued > (this.skipping ? this.bound / 2 : this.bound)) {
      if (!this.skipping) {
        this.core.metrics.listenersMoved++;
        this.skippingSince = Date.now();
      } else if (Date.now() - this.skippingSince > this.core.config.limits.listenerStallMs) {
        // Its socket took not even half of its backlog in all that time: nobody is reading.
        this.core.metrics.listenersStalled++;
        this.drop();
        return;
      }
      this.skipping = true;
      this.nextSeq = end;
      return;
    }
    if (this.skipping) {
      this.skipping = false;
      this.ws.send(JSON.stringify({ type: 'skipped', to_seq: block.seq } satisfies ListenMessage));
    }
    // A listener past its backlog bound (above) drops a carried status with the block: it gets
    // `skipped` once it drains, and the next status after that.
    this.out.writeBlock(block, status);
    this.nextSeq = end;
    this.core.metrics.bytesOut += block.bytes.length;
  }

  onEnd(state: EndState, reason?: EndReason): void {
    if (this.closed) return;
    if (this.skipping)
      this.ws.send(
        JSON.stringify({ type: 'skipped', to_seq: this.rec.blockCount } satisfies ListenMessage),
      );
    const end: ListenMessage = reason ? { type: 'end', state, reason } : { type: 'end', state };
    this.ws.send(JSON.stringify(end));
    this.ws.close(1000, state);
    this.close();
  }

  /**
   * `statusFrame` is the status as a text frame, built once per media for all its listeners and
   * written like a block's frame (ws.send would frame it and write twice per listener).
   */
  onStatus(statusFrame: Buffer): void {
    if (this.closed || this.out.gone || this.out.queued > this.bound) return;
    this.out.writeText(statusFrame);
  }

  private async catchUp(): Promise<void> {
    const { rec } = this;
    const from = this.options.from;
    if (this.options.headers && (from === 'live' || from > 0)) {
      // From the live edge, header blocks not stored yet come live anyway; from a later seq they
      // must come first, so wait for them.
      const upTo = Math.min(2, from === 'live' ? 2 : from);
      if (from !== 'live') await this.waitForBlocks(upTo);
      let seq = 0;
      while (!this.closed && seq < Math.min(upTo, rec.blockCount))
        seq = await this.sendHistory(seq, Math.min(upTo, rec.blockCount));
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
    this.pacer.close();
    if (rec.state === 'complete' || rec.state === 'cancelled')
      this.onEnd(rec.state, rec.hub.ended?.reason);
    else rec.hub.add(this);
  }

  /**
   * Waits until `count` blocks exist, the media ends or the listener leaves: block arrivals are
   * seen by a stand-in hub listener (they notify no changeWaiters), state changes without a hub
   * end (pending → live) by rec.changeWaiters.
   */
  private waitForBlocks(count: number): Promise<void> {
    const { rec } = this;
    const waiting = () =>
      !this.closed && rec.blockCount < count && (rec.state === 'live' || rec.state === 'pending');
    if (!waiting()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        rec.hub.remove(standIn);
        rec.changeWaiters.delete(onChange);
        this.ws.off('close', done);
        resolve();
      };
      // changeWaiters are cleared on each notification: stay registered while still waiting.
      const onChange = () => (waiting() ? rec.changeWaiters.add(onChange) : done());
      const standIn: HubListener = {
        onBlock: (block) => void (block.seq + block.count >= count && done()),
        onEnd: done,
      };
      rec.hub.add(standIn);
      rec.changeWaiters.add(onChange);
      this.ws.once('close', done);
    });
  }

  /**
   * Sends blocks [seq, until) from the file, at most one batch (limits.historyReadBytes, or one
   * block if larger; less, down to one block, when the history budget runs short), reserved in the
   * budget until the socket has taken it; resolves to the next seq (`until` when the listener is
   * gone or dropped).
   */
  private async sendHistory(seq: number, until: number): Promise<number> {
    const { rec, pacer } = this;
    const start = rec.offsets.at(seq);
    if (start === undefined || !rec.file || seq >= until) return until;
    let last = seq + 1;
    while (last < until && (rec.offsets.at(last + 1) ?? rec.byteLength) - start <= pacer.readBytes)
      last++;
    const next = (rec.offsets.at(seq + 1) ?? rec.byteLength) - start;
    const granted = await pacer.reserve(next, (rec.offsets.at(last) ?? rec.byteLength) - start);
    if (granted === 0) return until;
    // Whole blocks within the grant, at least one (the grant is never less than the next block).
    while (last > seq + 1 && (rec.offsets.at(last) ?? rec.byteLength) - start > granted) last--;
    const end = rec.offsets.at(last) ?? rec.byteLength;
    const file = rec.file;
    if (this.closed) return until;
    if (!file) {
      // Deleted while this listener waited for the budget: cut rather than end as if complete.
      this.drop();
      return until;
    }
    const bytes = await file.readAt(start, end - start);
    // Live listeners first: a fan-out under way finishes before these writes (live-first.ts).
    await pacer.turn(bytes.length);
    for (let s = seq; s < last && !this.closed; s++) {
      const a = (rec.offsets.at(s) ?? 0) - start;
      const b = (rec.offsets.at(s + 1) ?? rec.byteLength) - start;
      this.ws.send(bytes.subarray(a, b));
      this.core.metrics.bytesOut += b - a;
    }
    // Past the socket's high-water mark 'drain' will come once all of it is taken; below it the
    // few bytes left go with the next batch's reservation.
    if (!this.closed && this.out.needsDrain) {
      if (!(await pacer.progress(this.out.drained()))) {
        this.drop();
        return until;
      }
    }
    pacer.release();
    return last;
  }

  /** Cuts the connection without a close handshake: the client reads nothing. */
  private drop(): void {
    this.close();
    this.ws.terminate();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pacer.close();
    this.rec.hub.remove(this);
    this.leave();
  }
}
