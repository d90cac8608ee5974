/**
 * The body of an HTTP download from byte `start` (to `end`, inclusive, or on as the file grows):
 * history comes from the file in 64 KiB reads, paced by the client (pull); once the reader has
 * caught up with the stored length it joins the media's hub in the same synchronous step, so it
 * gets the next block and every one after — no gap, no duplicate — as views of the shared block.
 * A listener whose queue passes the backlog bound is disconnected (counted as dropped): an HTTP
 * byte stream cannot skip without corrupting what the client has read.
 */
import type { MediaRecord } from '../storage/media-record.ts';
import type { EndState, HubListener } from './media-hub.ts';
import type { SharedBlock } from './shared-block.ts';

export interface DownloadStreamOptions {
  rec: MediaRecord;
  start: number;
  /** Last byte wanted (inclusive), or null: until the media ends. */
  end: number | null;
  backlogBytes: number;
  onBytes(n: number): void;
  onDropped(): void;
  /** Called once when the stream ends for any reason. */
  onClose(): void;
}

const READ_SIZE = 64 * 1024;

export function createDownloadStream(o: DownloadStreamOptions): ReadableStream<Uint8Array> {
  const { rec } = o;
  let pos = o.start;
  let closed = false;
  let controllerRef: ReadableStreamDefaultController<Uint8Array> | null = null;

  const finish = (how: 'close' | 'error', reason?: Error) => {
    if (closed) return;
    closed = true;
    rec.hub.remove(listener);
    const c = controllerRef;
    if (c) {
      try {
        if (how === 'close') c.close();
        else c.error(reason);
      } catch {
        // already closed or errored by the consumer
      }
    }
    o.onClose();
  };

  const wantedEnd = () => (o.end === null ? Infinity : o.end + 1);

  const listener: HubListener = {
    onBlock(block: SharedBlock) {
      const c = controllerRef;
      if (closed || !c) return;
      const blockEnd = block.offset + block.bytes.length;
      if (blockEnd <= pos) return;
      if ((c.desiredSize ?? 0) < -o.backlogBytes) {
        o.onDropped();
        finish('error', new Error('listener fell behind'));
        return;
      }
      let view = block.bytes;
      if (block.offset < pos) view = view.subarray(pos - block.offset);
      const stop = wantedEnd();
      if (blockEnd > stop) view = view.subarray(0, view.length - (blockEnd - stop));
      c.enqueue(view);
      pos += view.length;
      o.onBytes(view.length);
      if (pos >= stop) finish('close');
    },
    onEnd(state: EndState) {
      if (state === 'complete') finish('close');
      else finish('error', new Error('media was cancelled'));
    },
  };

  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        controllerRef = controller;
      },
      async pull(controller) {
        while (!closed) {
          const stop = wantedEnd();
          if (pos >= stop) return finish('close');
          if (pos < rec.byteLength && rec.file) {
            const n = Math.min(READ_SIZE, rec.byteLength - pos, stop - pos);
            const bytes = await rec.file.readAt(pos, n);
            if (closed) return;
            if (bytes.length === 0)
              return finish('error', new Error('media file shorter than recorded'));
            controller.enqueue(bytes);
            pos += bytes.length;
            o.onBytes(bytes.length);
            if (pos >= stop) finish('close');
            return;
          }
          // Caught up with what is stored.
          if (rec.state === 'complete') return finish('close');
          if (rec.state === 'cancelled') return finish('error', new Error('media was cancelled'));
          // Live from here (also for a range starting past what is stored yet: onBlock skips
          // and slices the blocks before `pos`).
          rec.hub.add(listener);
          return;
        }
      },
      cancel() {
        finish('close');
      },
    },
    { highWaterMark: 0, size: (chunk) => chunk.byteLength },
  );
}
