/**
 * The relay's paths (docs/protocol.md). The Matrix media paths are fixed by the Matrix spec and
 * MSC2246; everything mxcast adds lives under the MSC4016 unstable prefix. The relay mounts its
 * routes on these constants and clients build their URLs from them, so the two cannot drift.
 */
import { mxcPathSegment, type MxcUri } from './mxc-uri.ts';

/** Everything mxcast adds to the Matrix media API (MSC4016's unstable namespace). */
export const UNSTABLE_PREFIX = '/_matrix/media/unstable/org.matrix.msc4016';

/** `POST`: reserve a media id (MSC2246). */
export const CREATE_PATH = '/_matrix/media/v1/create';
/** `PUT {UPLOAD_PATH}/{S}/{ID}`: streaming upload (MSC2246). */
export const UPLOAD_PATH = '/_matrix/media/v3/upload';
/** `GET {DOWNLOAD_PATH}/{S}/{ID}`: authenticated media download (Matrix v1.11). */
export const DOWNLOAD_PATH = '/_matrix/client/v1/media/download';
/** tus 1.0.0 resumable upload. */
export const TUS_PATH = `${UNSTABLE_PREFIX}/tus`;
/** The block index JSON (media-index.ts). */
export const INDEX_PATH = `${UNSTABLE_PREFIX}/index`;
/** `DELETE`: cancel or delete (owner). */
export const MEDIA_PATH = `${UNSTABLE_PREFIX}/media`;
/** `GET {HLS_PATH}/{S}/{ID}/playlist.m3u8`. */
export const HLS_PATH = `${UNSTABLE_PREFIX}/hls`;
/** Listen over WebSocket (listen-message.ts). */
export const LISTEN_WS_PATH = `${UNSTABLE_PREFIX}/ws`;
/** Upload over WebSocket (browsers). */
export const UPLOAD_WS_PATH = `${UNSTABLE_PREFIX}/upload/ws`;

/** Query parameters of the index and listen endpoints, as the relay reads them. */
export const INDEX_DEFAULT_COUNT = 100;
/** The most offsets one index request returns (`count` is clamped to it). */
export const INDEX_MAX_COUNT = 1000;

/** `{base}/{S}/{ID}` for one media, with both parts URL-encoded. */
export function mediaPath(base: string, mxc: Pick<MxcUri, 'serverName' | 'mediaId'>): string {
  return `${base}/${mxcPathSegment(mxc)}`;
}
