/**
 * @mxcast/protocol: the relay's HTTP and WebSocket protocol (docs/protocol.md), defined once for
 * the relay, the client, the player and the web app. Types, constants and pure parsers only: no
 * Node or DOM APIs, no I/O, nothing but @mxcast/format below it.
 */
export {
  UNSTABLE_PREFIX,
  CREATE_PATH,
  UPLOAD_PATH,
  DOWNLOAD_PATH,
  TUS_PATH,
  INDEX_PATH,
  MEDIA_PATH,
  HLS_PATH,
  LISTEN_WS_PATH,
  UPLOAD_WS_PATH,
  INDEX_DEFAULT_COUNT,
  INDEX_MAX_COUNT,
  mediaPath,
} from './protocol-paths.ts';
export { matchMxc, formatMxc, mxcPathSegment, type MxcUri } from './mxc-uri.ts';
export {
  GEOMETRY_KEY,
  STREAM_KEY,
  GEOMETRY_FIELDS,
  REQUIRED_GEOMETRY_FIELDS,
  OPUS_FRAME_MS,
  geometryProblem,
  pickGeometry,
  streamGeometryOf,
  type StreamGeometry,
  type DeclaredStreamGeometry,
} from './stream-geometry.ts';
export {
  mediaIndexProblem,
  MEDIA_STATES,
  type MediaIndex,
  type MediaState,
} from './media-index.ts';
export { parseListenMessage, type ListenMessage } from './listen-message.ts';
export {
  parseUploadMessage,
  FINISH_MESSAGE,
  type UploadServerMessage,
  type UploadClientMessage,
} from './upload-message.ts';
export {
  resumeRecordProblem,
  RESUME_RECORD_VERSION,
  type ResumeRecord,
  type ResumeRecordPoint,
} from './resume-record.ts';
export { parseMatrixError, matrixErrorOf, REASON_KEY, type MatrixError } from './matrix-error.ts';
export type { WebSocketLike, WebSocketConstructor } from './websocket-like.ts';
