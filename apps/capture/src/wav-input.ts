/**
 * WAV file input: decoded by packages/audio (16/24-bit and float, mono or stereo), resampled
 * to 48 kHz when it is at another rate.
 */
import { CaptureError } from './capture-error.ts';
import type { CaptureSource } from './capture-source.ts';

export { StreamResampler } from './stream-resampler.ts';

export function decodeWavInput(name: string, _bytes: Uint8Array): CaptureSource {
  throw new CaptureError('BAD_INPUT', `WAV input ${name}: not available yet`);
}
