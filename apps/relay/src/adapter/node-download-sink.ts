/**
 * The Node fast path for downloads: the relay writes straight to the ServerResponse instead of
 * through a web ReadableStream (one promise and one read per block per listener less): a live
 * block costs one res.write of the shared bytes per listener. A body of unknown length keeps the
 * chunked coding (RFC 9112 §7.1) — node writes the few bytes of chunk-size line itself — because a
 * close-delimited body would make a cut (cancelled media, dropped listener) look like a clean end.
 * The backlog is res.writableLength: the bytes queued in the response and its socket.
 */
import type { ServerResponse } from 'node:http';
import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import type { DirectDownload } from '../core/relay-core.ts';
import type { DownloadSink } from '../fanout/download-pump.ts';

class NodeResponseSink implements DownloadSink {
  constructor(private readonly res: ServerResponse) {}

  write(bytes: Uint8Array): boolean {
    if (this.res.destroyed) return true;
    return this.res.write(bytes);
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

export const directDownload: DirectDownload = (c: Context, status, headers) => {
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
