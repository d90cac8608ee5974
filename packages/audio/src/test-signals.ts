/**
 * Test signals for capture and tests, as specs a command line can carry:
 *   sine[:HZ]              a sine, default 440 Hz
 *   sweep[:F1-F2[:SECS]]   a linear sweep F1→F2 (default 100-4000) over SECS (default 10), repeating
 *   timecode               second n is a sine at 300 + 50 × (n mod 20) Hz (timecode.ts)
 *   silence                digital silence
 *   noise                  white noise (seeded: the same every run)
 *   voice                  a speech-like demo signal (voice-signal.ts)
 * All tones are phase-continuous (no clicks at frequency changes); every channel gets the same.
 */

import { AudioError } from './audio-error.ts';
import { timecodeFrequencyAt } from './timecode.ts';
import { createVoiceGenerator, xorshift32 } from './voice-signal.ts';

export interface SignalOptions {
  sampleRate?: number;
  channels?: number;
  /** Peak amplitude, 0–1 of full scale (default 0.5, i.e. −6 dBFS). */
  amplitude?: number;
}

export interface SignalSource {
  readonly spec: string;
  readonly sampleRate: number;
  readonly channels: number;
  /** Frames (samples per channel) produced so far. */
  readonly position: number;
  /** The next `frames` frames, interleaved, as floats. */
  readFloat(frames: number): Float32Array;
  /** The next `frames` frames, interleaved, as 16-bit PCM. */
  read(frames: number): Int16Array;
}

export const SIGNAL_KINDS = ['sine', 'sweep', 'timecode', 'silence', 'noise', 'voice'] as const;

function number(text: string | undefined, what: string, spec: string): number {
  const v = Number(text);
  if (text === undefined || text === '' || !Number.isFinite(v) || v <= 0) {
    throw new AudioError(
      'BAD_SIGNAL',
      `test signal "${spec}": ${what} ${JSON.stringify(text ?? '')} is not a positive number`,
    );
  }
  return v;
}

/** A mono generator for the spec: returns the next sample (−amplitude…amplitude) per call. */
function generator(spec: string, rate: number, amplitude: number): () => number {
  const [kind, ...args] = spec.split(':');
  const tone = (freqAt: (n: number) => number): (() => number) => {
    let phase = 0;
    let n = 0;
    return () => {
      const v = amplitude * Math.sin(2 * Math.PI * phase);
      phase += freqAt(n++) / rate;
      phase -= Math.floor(phase);
      return v;
    };
  };
  const nyquistCheck = (f: number): number => {
    if (f >= rate / 2)
      throw new AudioError(
        'BAD_SIGNAL',
        `test signal "${spec}": ${f} Hz is not below ${rate / 2} Hz (Nyquist)`,
      );
    return f;
  };
  switch (kind) {
    case 'sine': {
      if (args.length > 1) break;
      const f = nyquistCheck(args[0] === undefined ? 440 : number(args[0], 'frequency', spec));
      return tone(() => f);
    }
    case 'sweep': {
      if (args.length > 2) break;
      const range = (args[0] ?? '100-4000').split('-');
      if (range.length !== 2) break;
      const f1 = nyquistCheck(number(range[0], 'start frequency', spec));
      const f2 = nyquistCheck(number(range[1], 'end frequency', spec));
      const period = Math.round(
        rate * (args[1] === undefined ? 10 : number(args[1], 'duration', spec)),
      );
      return tone((n) => f1 + ((f2 - f1) * (n % period)) / period);
    }
    case 'timecode':
      if (args.length > 0) break;
      return tone((n) => timecodeFrequencyAt(n / rate));
    case 'silence':
      if (args.length > 0) break;
      return () => 0;
    case 'noise': {
      if (args.length > 0) break;
      const random = xorshift32(0x6d786361);
      return () => amplitude * (2 * random() - 1);
    }
    case 'voice':
      if (args.length > 0) break;
      return createVoiceGenerator(rate, amplitude);
    default:
      throw new AudioError(
        'BAD_SIGNAL',
        `unknown test signal "${spec}"; use one of ${SIGNAL_KINDS.join(', ')} (e.g. sine:440, sweep:100-4000)`,
      );
  }
  throw new AudioError('BAD_SIGNAL', `test signal "${spec}" has the wrong number of ":" arguments`);
}

/** Creates a signal source from a spec (see the top of this file). */
export function createSignal(spec: string, options: SignalOptions = {}): SignalSource {
  const sampleRate = options.sampleRate ?? 48000;
  const channels = options.channels ?? 1;
  const amplitude = options.amplitude ?? 0.5;
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) {
    throw new AudioError('UNSUPPORTED_RATE', `sample rate ${sampleRate} is not a positive integer`);
  }
  if (!Number.isInteger(channels) || channels < 1) {
    throw new AudioError(
      'UNSUPPORTED_CHANNELS',
      `channel count ${channels} is not a positive integer`,
    );
  }
  if (!(amplitude >= 0 && amplitude <= 1)) {
    throw new AudioError('BAD_ARGUMENT', `amplitude ${amplitude} is outside 0–1`);
  }
  const next = generator(spec, sampleRate, amplitude);
  let position = 0;
  const readFloat = (frames: number): Float32Array => {
    const out = new Float32Array(frames * channels);
    for (let f = 0; f < frames; f++) {
      const v = next();
      for (let c = 0; c < channels; c++) out[f * channels + c] = v;
    }
    position += frames;
    return out;
  };
  return {
    spec,
    sampleRate,
    channels,
    get position() {
      return position;
    },
    readFloat,
    read(frames: number): Int16Array {
      const f = readFloat(frames);
      const out = new Int16Array(f.length);
      for (let i = 0; i < f.length; i++)
        out[i] = Math.max(-32768, Math.min(32767, Math.round((f[i] as number) * 32767)));
      return out;
    },
  };
}
