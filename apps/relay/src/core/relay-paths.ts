/** The relay's paths (DESIGN.md §5, docs/protocol.md). */
export const UNSTABLE_PREFIX = '/_matrix/media/unstable/org.matrix.msc4016';
export const CREATE_PATH = '/_matrix/media/v1/create';
export const UPLOAD_PATH = '/_matrix/media/v3/upload';
export const DOWNLOAD_PATH = '/_matrix/client/v1/media/download';
export const TUS_PATH = `${UNSTABLE_PREFIX}/tus`;
export const INDEX_PATH = `${UNSTABLE_PREFIX}/index`;
export const MEDIA_PATH = `${UNSTABLE_PREFIX}/media`;
export const HLS_PATH = `${UNSTABLE_PREFIX}/hls`;
export const LISTEN_WS_PATH = `${UNSTABLE_PREFIX}/ws`;
export const UPLOAD_WS_PATH = `${UNSTABLE_PREFIX}/upload/ws`;

export function mxcUri(serverName: string, id: string): string {
  return `mxc://${serverName}/${id}`;
}
