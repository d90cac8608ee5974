/**
 * An HTTP download from byte `start` (to `end`, inclusive, or on as the file grows), into any
 * DownloadSink: history comes from the file in 64 KiB reads, paced by the sink; once the pump has
 * caught up with the stored length it joins the media's hub in the same synchronous step, so it gets
 * the next block and every one after — no gap, no duplicate — as views of the shared block (no copy,
 * no file read on the live path). A listener whose queue passes the backlog bound is disconnected
 * (counted as dropped): an HTTP byte stream cannot skip without corrupting what the client has read.
 * History is paced (history-pacer.ts): each read is reserved in the relay-wide history budget
 * until the sink has taken it, and a download whose client takes nothing for limits.listenerStallMs
 * is cut (counted as stalled), so a client that never reads holds one read, then nothing.
 */
import { HistoryPacer, type HistoryPacing } from './history-pacer.ts';
import type { EndState, HubListener, MediaHub } from './media-hub.ts';
import type { SharedBlock } from './shared-block.ts';

/**
 * What a download reads: the stored bytes so far and the live hub. storage/media-record.ts's
 * MediaRecord is one; fanout names only what it uses, so it never imports storage (the layer
 * arrows of docs/architecture.md "Relay layers": storage may use fanout, not the reverse).
 */
export interface DownloadSource {
  readonly state: 'pending' | 'live' | 'complete' | 'cancelled';
  /** Stored bytes (whole blocks). */
  readonly byteLength: number;
  /** Null once the media is deleted. */
  readonly file: { readAt(position: number, length: number): Promise<Uint8Array> } | null;
  readonly hub: MediaHub;
}

/** Where a download's bytes go: a web ReadableStream (core) or a Node ServerResponse (adapter). */
export interface DownloadSink {
  /** Queues bytes (kept as they are, not copied); false when the consumer wants a pause. */
  write(bytes: Uint8Array): boolean;
  /**
   * Optional fast path for a whole live block (its `bytes`, in order after everything written so
   * far): a sink that can send the block's prebuilt framing (SharedBlock.chunk) does so here.
   */
  writeBlock?(block: SharedBlock): void;
  /** Resolves when the consumer wants more, or has gone. */
  drained(): Promise<void>;
  /** Bytes queued and not yet taken by the consumer (for the backlog bound). */
  readonly queued: number;
  end(): void;
  fail(reason: Error): void;
  /** Registers the callback for the consumer going away. */
  onGone(callback: () => void): void;
}

export interface DownloadPumpOptions {
  rec: DownloadSource;
  start: number;
  /** Last byte wanted (inclusive), or null: until the media ends. */
  end: number | null;
  backlogBytes: number;
  sink: DownloadSink;
  /** The relay's history pacing (budget, read size, stall time; core/history-pacing.ts), or none. */
  history?: HistoryPacing;
  onBytes(n: number): void;
  onDropped(): void;
  /** Called once when the download ends for any reason. */
  onClose(): void;
}

/** The least a download reads at a time when the history budget runs short. */
const MIN_READ_BYTES = 4096;

export function pumpDownload(o: DownloadPumpOptions): void {
  const { rec, sink } = o;
  let pos = o.start;
  let closed = false;
  const stop = o.end === null ? Infinity : o.end + 1;
  const pacer = new HistoryPacer(o.history ?? null);

  const finish = (how: 'end' | 'fail' | 'gone', reason?: Error) => {
    if (closed) return;
    closed = true;
    pacer.close();
    rec.hub.remove(listener);
    if (how === 'end') sink.end();
    else if (how === 'fail') sink.fail(reason ?? new Error('download failed'));
    o.onClose();
  };

  const listener: HubListener = {
    onBlock(block: SharedBlock) {
      if (closed) return;
      const blockEnd = block.offset + block.bytes.length;
      if (blockEnd <= pos) return;
      if (sink.queued > o.backlogBytes) {
        o.onDropped();
        finish('fail', new Error('listener fell behind'));
        return;
      }
      if (block.offset === pos && blockEnd <= stop && sink.writeBlock) {
        // The usual live case: the whole block, framed once for every listener.
        sink.writeBlock(block);
        pos = blockEnd;
        o.onBytes(block.bytes.length);
      } else {
        let view = block.bytes;
        if (block.offset < pos) view = view.subarray(pos - block.offset);
        if (blockEnd > stop) view = view.subarray(0, view.length - (blockEnd - stop));
        sink.write(view);
        pos += view.length;
        o.onBytes(view.length);
      }
      if (pos >= stop) finish('end');
    },
    onEnd(state: EndState) {
      if (state === 'complete') finish('end');
      else finish('fail', new Error('media was cancelled'));
    },
  };

  sink.onGone(() => finish('gone'));

  const history = async () => {
    while (!closed) {
      if (pos >= stop) return finish('end');
      if (pos < rec.byteLength && rec.file) {
        const want = Math.min(pacer.readBytes, rec.byteLength - pos, stop - pos);
        // Waits here, without reading, while the relay's history budget is used up; may get less.
        const n = await pacer.reserve(Math.min(want, MIN_READ_BYTES), want);
        if (n === 0) return;
        const file = rec.file;
        if (closed) return;
        // Deleted while this reader waited for the budget: cut, never a clean (short) end.
        if (!file) return finish('fail', new Error('media was deleted'));
        const bytes = await file.readAt(pos, n);
        // Live listeners first: a fan-out under way finishes before this write (live-first.ts).
        await pacer.turn(bytes.length);
        if (closed) return;
        if (bytes.length === 0)
          return finish('fail', new Error('media file shorter than recorded'));
        pos += bytes.length;
        o.onBytes(bytes.length);
        if (!sink.write(bytes) && pos < stop && !(await pacer.progress(sink.drained())))
          return finish('fail', new Error('history reader stalled'));
        pacer.release();
        continue;
      }
      // Caught up with what is stored: live from here, in this same synchronous step (also for a
      // range starting past what is stored yet: onBlock skips and slices the blocks before `pos`).
      if (rec.state === 'complete') return finish('end');
      if (rec.state === 'cancelled') return finish('fail', new Error('media was cancelled'));
      pacer.close();
      rec.hub.add(listener);
      return;
    }
  };
  history().catch((err: unknown) =>
    finish('fail', err instanceof Error ? err : new Error(String(err))),
  );
}
