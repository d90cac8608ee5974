/** @mxcast/client: the relay's media API (docs/protocol.md) and listen links (docs/listen-link.md). */
export { ClientError, type ClientErrorCode } from './client-error.ts';
export { parseMxc, mxcPath, type MxcUri } from './mxc-uri.ts';
export { GEOMETRY_KEY, geometryProblem, type StreamGeometry } from './stream-geometry.ts';
export type { EncryptedFileV3 } from './encrypted-file-shape.ts';
export { decodeBase64, encodeBase64 } from './base64-codec.ts';
export {
  MediaClient,
  UNSTABLE_PREFIX,
  type MediaClientOptions,
  type CreatedMedia,
  type UploadResult,
  type TusOffset,
  type MediaIndex,
} from './media-client.ts';
export {
  ListenSocket,
  type ListenEvent,
  type WebSocketLike,
  type WebSocketConstructor,
} from './listen-socket.ts';
export {
  buildListenLink,
  parseListenLink,
  type ListenLinkParts,
  type ParsedListenLink,
} from './listen-link.ts';
export {
  buildEventContent,
  STREAM_KEY,
  OPUS_MIMETYPE,
  type BroadcastEventContent,
  type StreamInfo,
} from './event-content.ts';
