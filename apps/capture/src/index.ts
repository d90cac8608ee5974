/** @mxcast/capture: the broadcaster's pipeline, source → Opus CBR → Ogg page → encrypted block → upload. */
export {
  CaptureError,
  EXIT_CODES,
  captureErrorFrom,
  type CaptureErrorCode,
} from './capture-error.ts';
export {
  CAPTURE_PRESETS,
  DEFAULT_PRESET,
  audioBlockSize,
  presetGeometry,
  type CapturePreset,
} from './capture-presets.ts';
export {
  BlockPipeline,
  type BlockPipelineOptions,
  type FrameEncoder,
  type PipelineBlock,
} from './block-pipeline.ts';
export { createOpusEncoder } from './opus-encoder-factory.ts';
export { UploadSession, type UploadSessionOptions, type AckEvent } from './upload-session.ts';
export {
  readResumeState,
  writeResumeState,
  encryptState,
  decryptState,
  type ResumeState,
} from './resume-state.ts';
export {
  StatusLine,
  formatStatus,
  formatSummary,
  formatDuration,
  type CaptureStats,
} from './capture-status.ts';
export { RealtimePacer } from './realtime-pacer.ts';
export {
  bufferSource,
  generatedSource,
  rawPcmSource,
  micSource,
  type CaptureSource,
} from './capture-source.ts';
export { openCaptureSource, type SourceOptions } from './input-spec.ts';
export { EpochRekeyer, type EpochRekeyerOptions, type EpochAnnouncement } from './epoch-rekeyer.ts';
export {
  CaptureSession,
  DEFAULT_REKEY_LEAD_SECONDS,
  type CaptureSessionOptions,
  type CreatedStream,
  type CaptureResult,
} from './capture-session.ts';
