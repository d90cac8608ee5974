/**
 * A relay that cuts a finished broadcast short for HLS listeners: a node:http proxy in front of
 * the stack (nginx: Synapse, the relay, the web app) that passes every request through byte for
 * byte, except the HLS playlist, from which it drops the last `drop` media segments (and any
 * parts or hints after them) while keeping EXT-X-ENDLIST. Every block it does serve is genuine;
 * only the sender's completion event can tell the stream was cut (docs/matrix.md "Checkpoints
 * and completion": outcome `cut`).
 */
import { createServer, request, type IncomingMessage } from 'node:http';
import { closeServer, listenLoopback } from '../player/proxy-kit.ts';

export interface PlaylistCutProxy {
  url: string;
  /** Playlists rewritten so far. */
  cuts(): number;
  close(): Promise<void>;
}

/** The playlist up to and including its (total − drop)-th segment URI, then ENDLIST. */
export function cutPlaylist(text: string, drop: number): string {
  const lines = text.split('\n');
  const uris = lines.flatMap((l, i) => (l.trim() && !l.startsWith('#') ? [i] : []));
  const keep = uris.length - drop;
  if (keep < 1) throw new Error(`a playlist of ${uris.length} segments cannot lose ${drop}`);
  return `${lines.slice(0, uris[keep - 1]! + 1).join('\n')}\n#EXT-X-ENDLIST\n`;
}

export async function startPlaylistCutProxy(
  upstream: string,
  drop: number,
): Promise<PlaylistCutProxy> {
  let cuts = 0;
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    const isPlaylist = req.method === 'GET' && /\/playlist\.m3u8(\?|$)/.test(path);
    const headers = { ...req.headers, host: new URL(upstream).host };
    // The playlist is read as text here: no compressed answer.
    if (isPlaylist) delete headers['accept-encoding'];
    const up = request(
      upstream + path,
      { method: req.method, headers },
      (upRes: IncomingMessage) => {
        if (!isPlaylist || upRes.statusCode !== 200) {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.on('end', () => {
          const body = cutPlaylist(Buffer.concat(chunks).toString('utf8'), drop);
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
  return { url, cuts: () => cuts, close: () => closeServer(server) };
}
