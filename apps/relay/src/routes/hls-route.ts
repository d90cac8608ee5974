/**
 * `GET {P}/hls/{S}/{ID}/playlist.m3u8`: the growing media as a low-latency HLS EVENT playlist
 * of byte ranges of the download URL (core/ll-hls-playlist.ts: segments of about 2 s, parts of
 * about 200 ms while live, RFC 8216bis), with blocking playlist reload (`_HLS_msn`/`_HLS_part`,
 * core/hls-blocking-reload.ts). A listed segment's or part's bytes never change (blocks are
 * stored whole and never rewritten), so their ranges of the download URL are cacheable forever
 * (download-route.ts); the live playlist itself is not, the finished one is.
 */
import type { Hono } from 'hono';
import type { RelayCore } from '../core/relay-core.ts';
import { cancelledError } from '../core/media-store.ts';
import { DOWNLOAD_PATH, HLS_PATH } from '@mxcast/protocol';
import { parseBlockingReload, waitForPart } from '../core/hls-blocking-reload.ts';
import { buildLlHlsPlaylist, requireLayout } from '../core/ll-hls-playlist.ts';
import type { MediaRecord } from '../storage/media-record.ts';

export function mountHlsRoute(app: Hono, core: RelayCore): void {
  app.get(`${HLS_PATH}/:server/:id/playlist.m3u8`, async (c) => {
    const server = c.req.param('server');
    const url = new URL(c.req.url);
    const want = parseBlockingReload(url);
    const rec = await core.store.requireReadable(server, c.req.param('id'));
    await core.authorizeDownload(c.req.header('authorization'), url);
    if (rec.state === 'cancelled') throw cancelledError(rec);
    if (want) {
      const layout = requireLayout(rec);
      await waitForPart(
        rec,
        layout,
        want,
        core.config.limits.hlsBlockingReloadMs,
        core.metrics,
        c.req.raw.signal,
      );
      // The media may have been cancelled while the request was held.
      if ((rec.state as string) === 'cancelled') throw cancelledError(rec);
    }
    const complete = rec.state === 'complete';
    return c.body(buildPlaylist(rec, `${DOWNLOAD_PATH}/${server}/${rec.id}`), 200, {
      'Content-Type': 'application/vnd.apple.mpegurl',
      'Cache-Control': complete ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
  });
}

export function buildPlaylist(rec: MediaRecord, mediaUrl: string): string {
  return buildLlHlsPlaylist(rec, mediaUrl);
}
