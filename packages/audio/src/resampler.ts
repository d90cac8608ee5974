/**
 * Sample-rate conversion by windowed sinc (Blackman window, 16 zero crossings each side):
 * band-limited to 97% of the lower Nyquist, so a tone keeps its frequency and level and images
 * stay below about −70 dB. `Resampler` streams (keeps the history it needs between pushes);
 * `resample` converts one buffer. Output frame n sits at input time n × from / to, the first
 * output frame on the first input frame (no added delay).
 */

import { AudioError } from './audio-error.ts';

const ZERO_CROSSINGS = 16;
const TABLE_STEPS = 512; // kernel table entries per input sample, linearly interpolated

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function checkRate(rate: number, what: string): void {
  if (!Number.isInteger(rate) || rate < 1 || rate > 384000) {
    throw new AudioError('UNSUPPORTED_RATE', `${what} rate ${rate} Hz is outside 1–384000`);
  }
}

export class Resampler {
  private readonly up: number; // to / g
  private readonly down: number; // from / g
  private readonly half: number; // kernel half-width in input frames
  private readonly table: Float32Array;
  private buf: Float32Array;
  private bufStart = 0; // absolute input frame of buf[0]
  private bufFrames = 0;
  private inFrames = 0;
  private outIndex = 0;
  private flushed = false;

  constructor(
    readonly fromRate: number,
    readonly toRate: number,
    readonly channels: number,
  ) {
    checkRate(fromRate, 'input');
    checkRate(toRate, 'output');
    if (!Number.isInteger(channels) || channels < 1) {
      throw new AudioError(
        'UNSUPPORTED_CHANNELS',
        `channel count ${channels} is not a positive integer`,
      );
    }
    const g = gcd(fromRate, toRate);
    this.up = toRate / g;
    this.down = fromRate / g;
    const cutoff = Math.min(1, toRate / fromRate) * 0.97; // of the input Nyquist
    this.half = Math.ceil(ZERO_CROSSINGS / cutoff);
    const size = this.half * TABLE_STEPS + 2;
    this.table = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      const d = i / TABLE_STEPS; // distance in input frames
      const x = Math.PI * cutoff * d;
      const sinc = d === 0 ? 1 : Math.sin(x) / x;
      const w =
        d >= this.half
          ? 0
          : 0.42 +
            0.5 * Math.cos((Math.PI * d) / this.half) +
            0.08 * Math.cos((2 * Math.PI * d) / this.half);
      this.table[i] = cutoff * sinc * w;
    }
    this.buf = new Float32Array(4096 * channels);
  }

  /** Feeds interleaved float frames; returns the output frames now computable (interleaved). */
  push(input: Float32Array): Float32Array {
    if (this.flushed) throw new AudioError('BAD_ARGUMENT', 'push after flush');
    if (input.length % this.channels !== 0) {
      throw new AudioError(
        'BAD_ARGUMENT',
        `${input.length} samples are not whole frames of ${this.channels} channels`,
      );
    }
    const frames = input.length / this.channels;
    this.inFrames += frames;
    if (this.up === this.down) return input.slice();
    this.append(input, frames);
    return this.produce(this.bufStart + this.bufFrames);
  }

  /** Ends the input: returns the remaining output (input treated as zero past its end). */
  flush(): Float32Array {
    if (this.flushed) return new Float32Array(0);
    this.flushed = true;
    if (this.up === this.down) return new Float32Array(0);
    const total = Math.ceil((this.inFrames * this.up) / this.down);
    return this.produce(Infinity, total);
  }

  private append(input: Float32Array, frames: number): void {
    const ch = this.channels;
    // Drop frames no future output needs (before the next output's window).
    const keepFrom = Math.max(
      this.bufStart,
      Math.floor((this.outIndex * this.down) / this.up) - this.half + 1,
    );
    const drop = Math.min(this.bufFrames, keepFrom - this.bufStart);
    if (drop > 0) {
      this.buf.copyWithin(0, drop * ch, this.bufFrames * ch);
      this.bufStart += drop;
      this.bufFrames -= drop;
    }
    const need = (this.bufFrames + frames) * ch;
    if (need > this.buf.length) {
      const grown = new Float32Array(Math.max(need, this.buf.length * 2));
      grown.set(this.buf.subarray(0, this.bufFrames * ch));
      this.buf = grown;
    }
    this.buf.set(input, this.bufFrames * ch);
    this.bufFrames += frames;
  }

  /** Outputs whose windows end before `available` (absolute input frames), up to `limit` outputs. */
  private produce(available: number, limit = Infinity): Float32Array {
    const ch = this.channels;
    const half = this.half;
    const out: number[] = [];
    const end = this.bufStart + this.bufFrames;
    for (;;) {
      if (this.outIndex >= limit) break;
      const num = this.outIndex * this.down;
      const k0 = Math.floor(num / this.up);
      if (k0 + half >= available) break;
      const frac = (num - k0 * this.up) / this.up;
      for (let c = 0; c < ch; c++) {
        let acc = 0;
        for (let k = k0 - half + 1; k <= k0 + half; k++) {
          if (k < this.bufStart || k >= end) continue; // before the start or past the end: zero
          const d = Math.abs(k0 + frac - k) * TABLE_STEPS;
          const i = Math.floor(d);
          const t = d - i;
          const w = (this.table[i] as number) * (1 - t) + (this.table[i + 1] as number) * t;
          acc += (this.buf[(k - this.bufStart) * ch + c] as number) * w;
        }
        out.push(acc);
      }
      this.outIndex++;
    }
    return Float32Array.from(out);
  }
}

/** Converts a whole interleaved float buffer from one rate to another. */
export function resample(
  input: Float32Array,
  fromRate: number,
  toRate: number,
  channels: number,
): Float32Array {
  const r = new Resampler(fromRate, toRate, channels);
  const a = r.push(input);
  const b = r.flush();
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
