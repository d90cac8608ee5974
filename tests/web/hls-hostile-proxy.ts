/**
 * A hostile relay as an HLS listener sees it: a node:http proxy in front of the stack (nginx:
 * Synapse, the relay, the web app) that passes every request through byte for byte, except
 * - `dropSegments`: the HLS playlist loses its last media segments (and any parts or hints
 *   after them) but keeps EXT-X-ENDLIST. Every block it does serve is genuine; only the
 *   sender's completion event can tell the stream was cut (docs/matrix.md "Checkpoints and
 *   completion": outcome `cut`);
 * - `flipMediaRanges`: every media download range that does not start at 0 (the EXT-X-MAP
 *   header range stays intact, so the stream's first blocks authenticate) has one byte in its
 *   middle flipped: a block that fails authentication, TAMPERED (docs/player.md).
 */
import { createServer, request, type IncomingMessage } from 'node:http';
import { closeServer, listenLoopback } from '../player/proxy-kit.ts';

export interface HlsHostileProxy {
  url: string;
  /** Playlists rewritten so far. */
  cuts(): number;
  /** Media ranges with a flipped byte so far. */
  flips(): number;
  /** What it does to the requests from now on. */
  set(options: HlsHostileOptions): void;
  close(): Promise<void>;
}

export interface HlsHostileOptions {
  dropSegments?: number;
  flipMediaRanges?: boolean;
}

/** The playlist up to and including its (total − drop)-th segment URI, then ENDLIST. */
export function cutPlaylist(text: string, drop: number): string {
  const lines = text.split('\n');
  const uris = lines.flatMap((l, i) => (l.trim() && !l.startsWith('#') ? [i] : []));
  const keep = uris.length - drop;
  if (keep < 1) throw new Error(`a playlist of ${uris.length} segments cannot lose ${drop}`);
  return `${lines.slice(0, uris[keep - 1]! + 1).join('\n')}\n#EXT-X-ENDLIST\n`;
}

export async function startHlsHostileProxy(
  upstream: string,
  options: HlsHostileOptions,
): Promise<HlsHostileProxy> {
  let { dropSegments = 0, flipMediaRanges = false } = options;
  let cuts = 0;
  let flips = 0;
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    const isPlaylist =
      dropSegments > 0 && req.method === 'GET' && /\/playlist\.m3u8(\?|$)/.test(path);
    const isMedia = flipMediaRanges && req.method === 'GET' && /\/media\/download\//.test(path);
    const headers = { ...req.headers, host: new URL(upstream).host };
    // The playlist is read as text here: no compressed answer.
    if (isPlaylist || isMedia) delete headers['accept-encoding'];
    const up = request(
      upstream + path,
      { method: req.method, headers },
      (upRes: IncomingMessage) => {
        const start = Number(/^bytes (\d+)-/.exec(upRes.headers['content-range'] ?? '')?.[1] ?? 0);
        if (isMedia && upRes.statusCode === 206 && start > 0) {
          const chunks: Buffer[] = [];
          upRes.on('data', (c: Buffer) => chunks.push(c));
          upRes.on('end', () => {
            const body = Buffer.concat(chunks);
            body[Math.floor(body.length / 2)]! ^= 0x01;
            flips++;
            const out = { ...upRes.headers, 'content-length': String(body.length) };
            delete out['transfer-encoding'];
            res.writeHead(206, out);
            res.end(body);
          });
          upRes.on('error', () => res.destroy());
          return;
        }
        if (!isPlaylist || upRes.statusCode !== 200) {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.on('end', () => {
          const body = cutPlaylist(Buffer.concat(chunks).toString('utf8'), dropSegments);
          cuts++;
          const out = { ...upRes.headers };
          delete out['content-length'];
          delete out['transfer-encoding'];
          delete out.etag;
          res.writeHead(200, { ...out, 'content-length': Buffer.byteLength(body) });
          res.end(body);
        });
        upRes.on('error', () => res.destroy());
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
    res.on('close', () => up.destroy());
  });
  const url = await listenLoopback(server);
  return {
    url,
    cuts: () => cuts,
    flips: () => flips,
    set: (next) => ({ dropSegments = 0, flipMediaRanges = false } = next),
    close: () => closeServer(server),
  };
}
