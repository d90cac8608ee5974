/**
 * @mxcast/player: join live or seek anywhere in an mxcast broadcast, resync, authenticate,
 * demux, decode and play. Browser-safe; Node-only sinks are in `@mxcast/player/node`.
 */
export {
  Player,
  type PlayerOptions,
  type PlayFrom,
  type PlayerOutcome,
  type DeclaredGeometry,
} from './player.ts';
export {
  PLAYER_ERROR_CODES,
  PlayerError,
  isPlayerError,
  playerCodeOf,
  type PlayerErrorCode,
  type PlayerErrorDetails,
  type PlayerErrorOptions,
} from './player-error.ts';
export {
  PlayerEmitter,
  type PlayerState,
  type PlayerStatus,
  type PlayerEvents,
} from './player-events.ts';
export {
  OPUS_RATE,
  PRE_ROLL_SAMPLES,
  FIRST_AUDIO_SEQ,
  planSeek,
  blockOffset,
  blockStartSample,
  parseTime,
  declaredGeometryOf,
  type PlaybackGeometry,
  type SeekPlan,
} from './stream-geometry.ts';
export type { BlockSource, SourceBlock, SourceStart, SourceEnd } from './block-source.ts';
export { HttpBlockSource, type HttpBlockSourceOptions } from './http-block-source.ts';
export {
  WsBlockSource,
  type WsBlockSourceOptions,
  type WebSocketLike,
  type WebSocketConstructor,
} from './ws-block-source.ts';
export {
  BlockAuthenticator,
  DEFAULT_KEY_WAIT_MS,
  type EpochKeyOptions,
} from './block-authenticator.ts';
export { EpochKeyRing, keysChanged, type EpochKeys } from './epoch-keys.ts';
export {
  ringFromFeed,
  JOINED_WITHHELD_REASON,
  type EpochFeed,
  type EpochFeedSink,
  type FedEpoch,
  type RingFromFeed,
} from './epoch-ring-builder.ts';
export { firstHeldSeq, withholdsAny } from './live-key-start.ts';
export { OggBlockDemuxer, type DemuxedBlock } from './ogg-block-demuxer.ts';
export {
  OpusPageDecoder,
  type PcmChunk,
  type PacketDecoder,
  type AsyncPacketDecoder,
  type AnyPacketDecoder,
  type CreatePacketDecoder,
} from './opus-page-decoder.ts';
export { JitterBuffer, type JitterBufferOptions, type PlayoutState } from './jitter-buffer.ts';
export { PlayoutOutput } from './playout-output.ts';
export {
  fetchIndex,
  parseMxcUri,
  downloadUrl,
  indexUrl,
  listenSocketUrl,
  type RelayIndex,
  type MediaLocation,
} from './relay-index.ts';
export { DEFAULT_ANSWER_TIMEOUT_MS } from './player-session.ts';
export {
  fetchIndexWithRetry,
  isTransientIndexError,
  type IndexRetryOptions,
} from './index-fetch-retry.ts';
export { CallbackSink, MemorySink, type PcmSink } from './sink/pcm-sink.ts';
export { WorkletSink, type WorkletSinkOptions } from './sink/worklet-sink.ts';
export {
  WORKLET_PROCESSOR_NAME,
  WORKLET_PROCESSOR_SOURCE,
} from './sink/worklet-processor-source.ts';
