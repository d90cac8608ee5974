/**
 * The Node fast path for downloads: the relay writes straight to the ServerResponse instead of
 * through a web ReadableStream (one promise and one read per block per listener less). A body of
 * unknown length keeps the chunked coding (RFC 9112 §7.1), because a close-delimited body would
 * make a cut (cancelled media, dropped listener) look like a clean end. History goes through
 * res.write (node frames each chunk); a live block is ONE socket.write of the block's prebuilt
 * chunk (SharedBlock.chunk, framed once for all listeners) — res.write would cork the socket,
 * write the size line, CRLF, data and CRLF separately and uncork on the next tick, per listener.
 * Writing to the socket is in order with node's own writes because the response owns the socket
 * and has nothing buffered once its headers are flushed; fast-writer.ts checks that on node's
 * private fields (pinned by its test) and otherwise (a pipelined response not yet at the head of
 * the connection, or a node without those fields) sends the block through res.write.
 * The backlog is res.writableLength: the bytes queued in the response and its socket.
 * History pacing is the download route's (it passes core/history-pacing.ts to pumpDownload for
 * this sink and the web-stream one alike).
 */
import type { ServerResponse } from 'node:http';
import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import type { DirectDownload } from '../core/relay-core.ts';
import type { DownloadSink } from '../fanout/download-pump.ts';
import type { SharedBlock } from '../fanout/shared-block.ts';
import { writeChunk } from './fast-writer.ts';

class NodeResponseSink implements DownloadSink {
  constructor(private readonly res: ServerResponse) {}

  write(bytes: Uint8Array): boolean {
    if (this.res.destroyed) return true;
    return this.res.write(bytes);
  }

  writeBlock(block: SharedBlock): void {
    writeChunk(this.res, block);
  }

  drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.once('drain', done);
      this.res.once('close', done);
    });
  }

  get queued(): number {
    return this.res.writableLength;
  }

  end(): void {
    this.res.end();
  }

  fail(): void {
    // Cut the connection: the client must see an incomplete body, not a clean end.
    this.res.destroy();
  }

  onGone(callback: () => void): void {
    this.res.once('close', callback);
  }
}

/** Installed as `core.directDownload` by the Node adapter (node-relay.ts). */
export const directDownload: DirectDownload = (
  c: Context,
  status: number,
  headers: Record<string, string>,
) => {
  const res = (c.env as Partial<HttpBindings> | undefined)?.outgoing;
  if (!res || !('writeHead' in res) || res.headersSent) return null;
  res.writeHead(status, headers);
  res.flushHeaders();
  return {
    sink: new NodeResponseSink(res as ServerResponse),
    // Tells @hono/node-server the response is already being written.
    response: new Response(null, { headers: { 'x-hono-already-sent': '1' } }),
  };
};
