/**
 * A hostile relay for tests: a node:http proxy in front of a real relay that serves a media's
 * download with its blocks changed (bit flips, duplicates, reordering, drops, splices,
 * truncation) and Range honoured, and can rewrite the index and the HLS playlist to hide what
 * it did. Everything else (the web app's pages and assets too) passes through, so a browser
 * can load the listener page from the proxy and take it for the relay.
 */
import { createServer, type Server } from 'node:http';
import { BlockFramer, MAGIC_SIZE } from '@mxcast/format';
import { answerWith, closeServer, fetchUpstream, listenLoopback } from './proxy-kit.ts';

export type Blocks = Uint8Array[];

/** The tampered download as the proxy serves it: each block's offset, and the total length. */
export interface TamperedLayout {
  /** Offset of block i of the tampered download (the magic comes first). */
  offsets: number[];
  length: number;
}

export interface TamperingProxy {
  url: string;
  close(): Promise<void>;
}

/** The blocks of a whole MXC file (no key needed: BlockFramer only frames). */
export function splitBlocks(file: Uint8Array): { magic: Uint8Array; blocks: Blocks } {
  const framer = new BlockFramer();
  const blocks = framer.push(file).map((b) => b.bytes.slice());
  framer.finish();
  return { magic: file.slice(0, MAGIC_SIZE), blocks };
}

export async function startTamperingProxy(
  upstream: string,
  tamper: (blocks: Blocks) => Blocks,
  rewriteIndex?: (
    index: Record<string, unknown>,
    tamperedLength: number,
    blockCount: number,
  ) => Record<string, unknown>,
  /** Rewrites the HLS playlist (docs/protocol.md "HLS view") given the tampered layout. */
  rewritePlaylist?: (playlist: string, layout: TamperedLayout) => string,
): Promise<TamperingProxy> {
  const cache = new Map<string, { bytes: Uint8Array; count: number; offsets: number[] }>();
  const tampered = async (path: string) => {
    let hit = cache.get(path);
    if (!hit) {
      const res = await fetch(upstream + path);
      const { magic, blocks } = splitBlocks(new Uint8Array(await res.arrayBuffer()));
      const out = tamper(blocks);
      const offsets: number[] = [];
      let at = magic.length;
      for (const block of out) {
        offsets.push(at);
        at += block.length;
      }
      hit = { bytes: Buffer.concat([magic, ...out]), count: out.length, offsets };
      cache.set(path, hit);
    }
    return hit;
  };
  const server: Server = createServer((req, res) => {
    answerWith(res, async () => {
      const path = req.url ?? '/';
      if (path.includes('/media/download/')) {
        const { bytes } = await tampered(path.split('?')[0] as string);
        const m = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
        if (!m) {
          res.writeHead(200, { 'content-length': bytes.length, 'accept-ranges': 'bytes' });
          res.end(bytes);
          return;
        }
        const start = Number(m[1]);
        const end = m[2] ? Math.min(Number(m[2]), bytes.length - 1) : bytes.length - 1;
        if (start >= bytes.length) {
          res.writeHead(416, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ errcode: 'M_NOT_FOUND', error: 'range past end' }));
          return;
        }
        res.writeHead(206, {
          'content-range': `bytes ${start}-${end}/${bytes.length}`,
          'content-length': end - start + 1,
        });
        res.end(bytes.subarray(start, end + 1));
        return;
      }
      const up = await fetchUpstream(upstream, req);
      let body = Buffer.from(await up.arrayBuffer());
      if (path.includes('/index/') && rewriteIndex && up.ok) {
        const downloadPath = path
          .split('?')[0]
          ?.replace(
            /\/_matrix\/media\/unstable\/org\.matrix\.msc4016\/index\//,
            '/_matrix/client/v1/media/download/',
          ) as string;
        const { bytes, count } = await tampered(downloadPath);
        body = Buffer.from(
          JSON.stringify(rewriteIndex(JSON.parse(body.toString()), bytes.length, count)),
        );
      }
      if (path.includes('/hls/') && rewritePlaylist && up.ok) {
        const downloadPath = path
          .split('?')[0]
          ?.replace(
            /\/_matrix\/media\/unstable\/org\.matrix\.msc4016\/hls\/([^/]+)\/([^/]+)\/playlist\.m3u8$/,
            '/_matrix/client/v1/media/download/$1/$2',
          ) as string;
        const { bytes, offsets } = await tampered(downloadPath);
        body = Buffer.from(rewritePlaylist(body.toString(), { offsets, length: bytes.length }));
      }
      return { up, body };
    });
  });
  return { url: await listenLoopback(server), close: () => closeServer(server) };
}
