/**
 * WAV file input (16/24/32-bit integer or float, mono or stereo; packages/audio's readWav) and
 * the rate conversion of inputs not at 48 kHz, the only rate Opus granules count in
 * (RFC 7845 §4): packages/audio's windowed-sinc Resampler, whole-file or streaming.
 */
import {
  floatToInt16,
  int16ToFloat,
  isAudioError,
  readWav,
  resample,
  Resampler,
} from '@mxcast/audio';
import { CaptureError } from './capture-error.ts';
import { bufferSource, type CaptureSource } from './capture-source.ts';

export const OPUS_RATE = 48000;

export function decodeWavInput(name: string, bytes: Uint8Array): CaptureSource {
  let wav: ReturnType<typeof readWav>;
  try {
    wav = readWav(bytes);
  } catch (err) {
    if (isAudioError(err)) throw new CaptureError('BAD_INPUT', `${name}: ${err.message}`);
    throw err;
  }
  if (wav.channels !== 1 && wav.channels !== 2) {
    throw new CaptureError(
      'BAD_INPUT',
      `${name}: ${wav.channels} channels; capture takes mono or stereo`,
    );
  }
  if (wav.frameCount === 0) throw new CaptureError('BAD_INPUT', `${name}: no audio samples`);
  let samples = wav.samples;
  if (wav.sampleRate !== OPUS_RATE) {
    try {
      samples = resample(samples, wav.sampleRate, OPUS_RATE, wav.channels);
    } catch (err) {
      if (isAudioError(err)) throw new CaptureError('BAD_INPUT', `${name}: ${err.message}`);
      throw err;
    }
  }
  const format = `${wav.bitsPerSample}-bit ${wav.sampleFormat}, ${wav.sampleRate} Hz, ${wav.channels} ch`;
  return bufferSource(`${name} (${format})`, floatToInt16(samples), wav.channels);
}

/** Streaming s16 conversion to 48 kHz for raw stdin at another `--rate`. */
export class PcmRateConverter {
  private readonly resampler: Resampler;

  constructor(fromRate: number, channels: number) {
    this.resampler = new Resampler(fromRate, OPUS_RATE, channels);
  }

  push(pcm: Int16Array): Int16Array {
    return floatToInt16(this.resampler.push(int16ToFloat(pcm)));
  }

  /** The tail the filter still holds once the input has ended. */
  flush(): Int16Array {
    return floatToInt16(this.resampler.flush());
  }
}
