/**
 * Capture sources: where the PCM comes from. Every source yields interleaved 16-bit PCM at
 * 48 kHz (the Opus rate, RFC 7845 §5.1) in chunks of any size.
 * - `file.wav`: 16/24-bit or float WAV, mono or stereo, resampled to 48 kHz when needed;
 * - `-` (stdin): raw s16le at `--rate` / `--channels`;
 * - `sine[:HZ]`, `sweep`, `timecode`, `silence`: test signals (packages/audio);
 * - `mic`: the system recorder (arecord, else sox), with a clear error when there is none.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import path from 'node:path';
import { CaptureError } from './capture-error.ts';

export interface CaptureSource {
  /** How the source is named in messages. */
  readonly description: string;
  readonly channels: number;
  /** Samples per channel at 48 kHz when the input's length is known (for a progress bar). */
  readonly totalSamples: number | null;
  /** Live sources (mic, stdin) are paced by nature: `--realtime` is their default. */
  readonly live: boolean;
  /** Interleaved 48 kHz s16 PCM, until the input ends or `signal` aborts. */
  read(signal: AbortSignal): AsyncIterable<Int16Array>;
  /** Stops the source (kills a recorder); safe to call twice. */
  close(): void;
}

/** Samples per channel in one chunk from generated and file sources: 20 ms. */
const CHUNK = 960;

/** A source over PCM already in memory (a decoded WAV file). */
export function bufferSource(
  description: string,
  pcm: Int16Array,
  channels: number,
): CaptureSource {
  return {
    description,
    channels,
    totalSamples: pcm.length / channels,
    live: false,
    async *read(signal) {
      for (let at = 0; at < pcm.length && !signal.aborted; at += CHUNK * channels) {
        yield pcm.subarray(at, Math.min(pcm.length, at + CHUNK * channels));
      }
    },
    close() {},
  };
}

/** A source over a generator of PCM chunks (test signals): endless unless the generator ends. */
export function generatedSource(
  description: string,
  channels: number,
  next: (frames: number) => Int16Array,
): CaptureSource {
  return {
    description,
    channels,
    totalSamples: null,
    live: false,
    async *read(signal) {
      while (!signal.aborted) yield next(CHUNK);
    },
    close() {},
  };
}

/**
 * Raw s16le from a byte stream (stdin, a recorder's stdout). Odd bytes carry over between
 * chunks, so a sample split across reads is kept whole.
 */
export function rawPcmSource(options: {
  description: string;
  stream: AsyncIterable<Uint8Array> & { destroy?: () => void };
  channels: number;
  rate: number;
  live: boolean;
  /** Rate conversion to 48 kHz, with the filter's tail flushed at the end of input. */
  convert?: { push(pcm: Int16Array): Int16Array; flush(): Int16Array };
  onClose?: () => void;
}): CaptureSource {
  let closed = false;
  return {
    description: options.description,
    channels: options.channels,
    totalSamples: null,
    live: options.live,
    async *read(signal) {
      const frameBytes = 2 * options.channels;
      let carry = new Uint8Array(0);
      // A stream waiting for bytes would not notice a stop until more arrive: end it now.
      const stop = () => options.stream.destroy?.();
      signal.addEventListener('abort', stop, { once: true });
      try {
        for await (const chunk of options.stream) {
          if (signal.aborted || closed) break;
          let bytes = chunk;
          if (carry.length > 0) {
            bytes = new Uint8Array(carry.length + chunk.length);
            bytes.set(carry);
            bytes.set(chunk, carry.length);
          }
          const whole = bytes.length - (bytes.length % frameBytes);
          carry = bytes.slice(whole);
          if (whole === 0) continue;
          // Copy into an aligned buffer: s16le is the machine order on every platform Node runs on.
          const aligned = new Int16Array(whole / 2);
          new Uint8Array(aligned.buffer).set(bytes.subarray(0, whole));
          yield options.convert ? options.convert.push(aligned) : aligned;
        }
      } catch (err) {
        // Destroying a waiting stream ends it with a premature-close error: that is the stop.
        if (!signal.aborted && !closed) throw err;
      }
      signal.removeEventListener('abort', stop);
      if (options.convert) yield options.convert.flush();
    },
    close() {
      if (closed) return;
      closed = true;
      options.onClose?.();
      options.stream.destroy?.();
    },
  };
}

/** Finds an executable on PATH. */
export async function findOnPath(name: string): Promise<string | null> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return null;
}

/** `mic`: records with arecord (ALSA) or sox, whichever is present, as raw s16le 48 kHz. */
export async function micSource(channels: number): Promise<CaptureSource> {
  const arecord = await findOnPath('arecord');
  const sox = arecord ? null : await findOnPath('sox');
  let child: ChildProcess;
  const ch = String(channels);
  if (arecord) {
    child = spawn(arecord, ['-q', '-f', 'S16_LE', '-r', '48000', '-c', ch, '-t', 'raw'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } else if (sox) {
    child = spawn(
      sox,
      ['-q', '-d', '-t', 'raw', '-r', '48000', '-e', 'signed', '-b', '16', '-c', ch, '-'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } else {
    throw new CaptureError(
      'BAD_INPUT',
      "input 'mic' needs arecord (alsa-utils) or sox on PATH, and neither was found",
    );
  }
  const tool = arecord ? 'arecord' : 'sox';
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-400)));
  const failed = new Promise<never>((_, reject) => {
    child.on('error', (e) => reject(new CaptureError('BAD_INPUT', `mic: ${tool}: ${e.message}`)));
  });
  failed.catch(() => {});
  const stdout = child.stdout as NonNullable<ChildProcess['stdout']>;
  const source = rawPcmSource({
    description: `mic (${tool})`,
    stream: stdout,
    channels,
    rate: 48000,
    live: true,
    onClose: () => child.kill('SIGTERM'),
  });
  return {
    ...source,
    async *read(signal) {
      let got = false;
      for await (const chunk of source.read(signal)) {
        got = true;
        yield chunk;
      }
      if (!got && !signal.aborted) {
        const detail = stderr.trim().split('\n').pop() ?? `exit code ${child.exitCode}`;
        throw new CaptureError('BAD_INPUT', `mic: ${tool} recorded nothing: ${detail}`);
      }
    },
  };
}

/** Reads a whole file, turning ENOENT and friends into one clear line. */
export async function readInputFile(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new CaptureError('BAD_INPUT', `cannot read input file ${file}: ${code}`);
  }
}
