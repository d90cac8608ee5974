/**
 * The one error class of the audio layer. Each `code` is listed here and in docs/audio.md;
 * messages carry the actual values.
 */

export type AudioErrorCode =
  /** The bytes are not a RIFF/WAVE file (no "RIFF"…"WAVE", or a chunk runs past the end). */
  | 'NOT_WAV'
  /** A WAVE file with no "fmt " chunk before its "data" chunk, or a fmt chunk too short. */
  | 'WAV_NO_FORMAT'
  /** A WAVE file with no "data" chunk. */
  | 'WAV_NO_DATA'
  /** A WAVE encoding this reader does not handle (format tag, sub-format or bit depth). */
  | 'WAV_UNSUPPORTED_FORMAT'
  /** A sample rate mxcast cannot use (zero, or outside 1 Hz–384 kHz). */
  | 'UNSUPPORTED_RATE'
  /** A channel count mxcast cannot use (Opus mapping family 0: 1 or 2). */
  | 'UNSUPPORTED_CHANNELS'
  /** An encoder setting Opus refuses (frame size, bitrate, sample rate, bitrate × frame not whole bytes). */
  | 'BAD_ENCODER_SETTINGS'
  /** A PCM frame of the wrong length was given to the encoder. */
  | 'BAD_FRAME'
  /** libopus returned an error while encoding, or a packet of a size CBR forbids. */
  | 'ENCODE_FAILED'
  /** libopus could not decode a packet. */
  | 'DECODE_FAILED'
  /** A test-signal spec that does not parse (`sine[:HZ]`, `sweep[:F1-F2]`, `timecode`, …). */
  | 'BAD_SIGNAL'
  /** A caller passed an invalid argument. */
  | 'BAD_ARGUMENT';

export class AudioError extends Error {
  override readonly name = 'AudioError';
  readonly code: AudioErrorCode;

  constructor(code: AudioErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

export function isAudioError(err: unknown, code?: AudioErrorCode): err is AudioError {
  return err instanceof AudioError && (code === undefined || err.code === code);
}
