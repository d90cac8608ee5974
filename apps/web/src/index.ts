/**
 * @mxcast/web: the Vite app (docs/web.md). What other code may reuse without the pages: the
 * Opus fMP4 writer (init segment, fragments, dOps) and the HLS pieces that turn the relay's
 * encrypted byte ranges into fMP4 for hls.js/MSE.
 */
export {
  opusInitSegment,
  opusFragment,
  dOpsBox,
  OPUS_TIMESCALE,
  type OpusConfig,
  type OpusSample,
} from './mp4/opus-fmp4.ts';
export {
  HlsSegmentRemuxer,
  RemuxError,
  type RemuxedSegment,
} from './listen/hls-segment-remuxer.ts';
export {
  createDecryptingLoader,
  type DecryptingLoaderHooks,
} from './listen/hls-decrypting-loader.ts';
export { mountBroadcasterPage } from './broadcast/broadcaster-page.ts';
export { mountListenerPage } from './listen/listener-page.ts';
