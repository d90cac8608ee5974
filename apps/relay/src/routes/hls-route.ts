/**
 * `GET {P}/hls/{S}/{ID}/playlist.m3u8`: the growing media as an HLS EVENT playlist (RFC 8216)
 * of byte ranges of the download URL: EXT-X-MAP is the magic and the two header blocks (OpusHead,
 * OpusTags), each segment whole audio blocks for about 2 s, by the geometry declared at create.
 * Only whole segments are listed while live; the tail and EXT-X-ENDLIST once complete. A listed
 * segment's bytes never change, so the segments' ranges are cacheable forever (download-route.ts).
 */
import type { Hono } from 'hono';
import type { RelayCore } from '../core/relay-core.ts';
import { cancelledError } from '../core/media-store.ts';
import { RelayError } from '../core/relay-error.ts';
import { DOWNLOAD_PATH, HLS_PATH } from '@mxcast/protocol';
import { isUsableGeometry } from '../core/geometry-check.ts';
import type { MediaRecord } from '../storage/media-record.ts';

const TARGET_SEGMENT_MS = 2000;

export function mountHlsRoute(app: Hono, core: RelayCore): void {
  app.get(`${HLS_PATH}/:server/:id/playlist.m3u8`, async (c) => {
    const server = c.req.param('server');
    const rec = await core.store.requireReadable(server, c.req.param('id'));
    await core.authorizeDownload(c.req.header('authorization'), new URL(c.req.url));
    if (rec.state === 'cancelled') throw cancelledError(rec);
    const complete = rec.state === 'complete';
    return c.body(buildPlaylist(rec, `${DOWNLOAD_PATH}/${server}/${rec.id}`), 200, {
      'Content-Type': 'application/vnd.apple.mpegurl',
      'Cache-Control': complete ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
  });
}

export function buildPlaylist(rec: MediaRecord, mediaUrl: string): string {
  const g = rec.geometry;
  if (!g)
    throw new RelayError(
      'M_NOT_FOUND',
      'no HLS view: the stream geometry was not declared at create',
    );
  // Rows stored before create checked the geometry strictly may hold any number: no playlist
  // rather than one saying NaN (RFC 8216 §4.3.3.1 wants a decimal-integer target duration).
  if (!isUsableGeometry(g))
    throw new RelayError('M_NOT_FOUND', 'no HLS view: the declared stream geometry is not usable');
  const blockMs = g.frame_ms * g.frames_per_block;
  const perSegment = Math.max(1, Math.round(TARGET_SEGMENT_MS / blockMs));
  const complete = rec.state === 'complete';
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${Math.max(1, Math.ceil((perSegment * blockMs) / 1000))}`,
    '#EXT-X-PLAYLIST-TYPE:EVENT',
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXT-X-INDEPENDENT-SEGMENTS',
  ];
  const headerEnd = rec.offsets.at(2);
  if (headerEnd !== undefined) {
    lines.push(`#EXT-X-MAP:URI="${mediaUrl}",BYTERANGE="${headerEnd}@0"`);
    for (let first = 2; first < rec.blockCount; first += perSegment) {
      const last = Math.min(first + perSegment, rec.blockCount);
      if (last - first < perSegment && !complete) break;
      const start = rec.offsets.at(first) ?? 0;
      const end = rec.offsets.at(last) ?? rec.byteLength;
      lines.push(`#EXTINF:${(((last - first) * blockMs) / 1000).toFixed(3)},`);
      lines.push(`#EXT-X-BYTERANGE:${end - start}@${start}`);
      lines.push(mediaUrl);
    }
  }
  if (complete) lines.push('#EXT-X-ENDLIST');
  return lines.join('\n') + '\n';
}
