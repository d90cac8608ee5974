// @mxcast/audio — CBR Opus (opusscript), WAV, resampling and test signals. Browser-safe core;
// Node-only file helpers are in '@mxcast/audio/node'.
export { AudioError, isAudioError, type AudioErrorCode } from './audio-error.ts';
export { OpusCbrEncoder, type OpusCbrEncoderOptions } from './opus-cbr-encoder.ts';
export { OpusPacketDecoder, type OpusPacketDecoderOptions } from './opus-packet-decoder.ts';
export { padOpusPacket } from './opus-packet-padding.ts';
export {
  PRESETS,
  DEFAULT_PRESET,
  type Preset,
  type PresetName,
  isPresetName,
  blockGeometry,
  type BlockGeometry,
} from './presets.ts';
export { floatToInt16, int16ToFloat, channelOf, remixChannels, rmsDbfs } from './pcm.ts';
export { estimateFrequency, goertzelPower, measureTone } from './frequency.ts';
export type { ToneMeasure } from './frequency.ts';
export {
  timecodeFrequencyAt,
  timecodeSegmentOf,
  readTimecode,
  TIMECODE_BASE_HZ,
  TIMECODE_STEP_HZ,
  TIMECODE_PERIOD,
} from './timecode.ts';
export {
  createSignal,
  SIGNAL_KINDS,
  type SignalSource,
  type SignalOptions,
} from './test-signals.ts';
export {
  readWav,
  parseWavHeader,
  decodeWavSamples,
  type WavFormat,
  type WavHeader,
  type WavData,
} from './wav-reader.ts';
export {
  encodeWav,
  encodeWavHeader,
  int16ToLeBytes,
  WavStreamWriter,
  WAV_HEADER_SIZE,
} from './wav-writer.ts';
export { Resampler, resample } from './resampler.ts';
