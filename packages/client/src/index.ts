/** @mxcast/client: the relay's media API (docs/protocol.md) and listen links (docs/listen-link.md). */
export {
  ClientError,
  CLIENT_OWN_CODES,
  RELAY_ERRCODES,
  type ClientErrorCode,
  type ClientOwnCode,
  type RelayErrcode,
  readErrorBody,
} from './client-error.ts';
export { RELAY_FAILURES, relayFailureOf, type RelayFailure } from './relay-failure.ts';
export { AnswerTimeout, fetchWithAnswerTimeout, withAnswerTimeout } from './answer-timeout.ts';
export { parseMxc, mxcPath, type MxcUri } from './mxc-uri.ts';
// The wire vocabulary is @mxcast/protocol's; re-exported so callers of the client need one import.
export {
  GEOMETRY_KEY,
  UNSTABLE_PREFIX,
  geometryProblem,
  streamGeometryOf,
  type StreamGeometry,
  type DeclaredStreamGeometry,
  type MediaIndex,
  type ListenMessage,
  parseUploadMessage,
  FINISH_MESSAGE,
  type UploadServerMessage,
} from '@mxcast/protocol';
/** @deprecated The one EncryptedFile type is @mxcast/format's `EncryptedFile`; this is an alias. */
export type { EncryptedFile as EncryptedFileV3 } from '@mxcast/format';
export {
  MediaClient,
  DEFAULT_TIMEOUT_MS,
  type MediaClientOptions,
  type CreatedMedia,
  type UploadResult,
  type TusOffset,
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
