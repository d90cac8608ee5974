/**
 * `--input SOURCE` → a CaptureSource: `mic`, `-` (raw s16le stdin), a test signal spec
 * (`sine[:HZ]`, `sweep…`, `timecode`, `silence`, `noise`, `voice`; packages/audio) or a WAV file.
 * Errors are CaptureError BAD_INPUT with one line naming the problem.
 */
import { createSignal, isAudioError, SIGNAL_KINDS } from '@mxcast/audio';
import { CaptureError } from './capture-error.ts';
import {
  generatedSource,
  micSource,
  rawPcmSource,
  readInputFile,
  type CaptureSource,
} from './capture-source.ts';
import { decodeWavInput, OPUS_RATE, PcmRateConverter } from './wav-input.ts';

export interface SourceOptions {
  /** Channels of mic, stdin and signals (a WAV file brings its own). */
  channels: number;
  /** Sample rate of raw stdin (default 48000). */
  rate?: number;
  stdin?: AsyncIterable<Uint8Array> & { destroy?: () => void };
}

export async function openCaptureSource(
  spec: string,
  options: SourceOptions,
): Promise<CaptureSource> {
  const channels = options.channels;
  if (channels !== 1 && channels !== 2) {
    throw new CaptureError('BAD_INPUT', `channels must be 1 or 2, got ${channels}`);
  }
  if (spec === 'mic') return micSource(channels);
  if (spec === '-') {
    if (!options.stdin) throw new CaptureError('BAD_INPUT', 'input - needs a stdin stream');
    const rate = options.rate ?? 48000;
    if (!Number.isInteger(rate) || rate < 8000 || rate > 192000) {
      throw new CaptureError(
        'BAD_INPUT',
        `--rate must be an integer from 8000 to 192000 Hz, got ${rate}`,
      );
    }
    const convert = rate === OPUS_RATE ? null : new PcmRateConverter(rate, channels);
    return rawPcmSource({
      description: `stdin (s16le, ${rate} Hz, ${channels} ch)`,
      stream: options.stdin,
      channels,
      rate,
      live: true,
      ...(convert ? { convert } : {}),
    });
  }
  const kind = spec.split(':')[0] ?? '';
  if ((SIGNAL_KINDS as readonly string[]).includes(kind)) {
    try {
      const signal = createSignal(spec, { channels, sampleRate: 48000 });
      return generatedSource(`signal ${spec}`, channels, (frames) => signal.read(frames));
    } catch (err) {
      if (isAudioError(err)) throw new CaptureError('BAD_INPUT', err.message);
      throw err;
    }
  }
  if (!/\.wav$/i.test(spec)) {
    throw new CaptureError(
      'BAD_INPUT',
      `unknown input '${spec}': use mic, - (stdin), FILE.wav or a test signal (${SIGNAL_KINDS.join(', ')})`,
    );
  }
  return decodeWavInput(spec, await readInputFile(spec));
}
