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

/** Polyphase tables past this many coefficients fall back to an interpolated kernel table. */
const MAX_POLYPHASE = 1 << 20;

export class Resampler {
  private readonly up: number; // to / g
  private readonly down: number; // from / g
  private readonly half: number; // kernel half-width in input frames
  private readonly cutoff: number;
  /** Polyphase coefficients: `up` phases × 2·half taps, or null (use `table`). */
  private readonly phases: Float32Array | null;
  private readonly table: Float32Array | null;
  private buf: Float32Array;
  private bufStart: number; // absolute input frame of buf[0] (starts at −half: zeros before the input)
  private bufFrames: number;
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
    this.cutoff = Math.min(1, toRate / fromRate) * 0.97; // of the input Nyquist
    this.half = Math.ceil(ZERO_CROSSINGS / this.cutoff);
    const taps = 2 * this.half;
    if (this.up * taps <= MAX_POLYPHASE) {
      // Output n sits at input time n·down/up: its fractional part is one of `up` phases.
      this.phases = new Float32Array(this.up * taps);
      for (let p = 0; p < this.up; p++) {
        for (let j = 0; j < taps; j++)
          this.phases[p * taps + j] = this.kernel(p / this.up + this.half - 1 - j);
      }
      this.table = null;
    } else {
      this.phases = null;
      const size = this.half * TABLE_STEPS + 2;
      this.table = new Float32Array(size);
      for (let i = 0; i < size; i++) this.table[i] = this.kernel(i / TABLE_STEPS);
    }
    // Zeros before the first input frame, so every window lies inside the buffer.
    this.bufStart = -this.half;
    this.bufFrames = this.half;
    this.buf = new Float32Array(Math.max(4096, this.half * 4) * channels);
  }

  /** The windowed sinc at a distance of `d` input frames. */
  private kernel(d: number): number {
    const a = Math.abs(d);
    if (a >= this.half) return 0;
    const x = Math.PI * this.cutoff * a;
    const sinc = a === 0 ? 1 : Math.sin(x) / x;
    const t = (Math.PI * a) / this.half;
    return this.cutoff * sinc * (0.42 + 0.5 * Math.cos(t) + 0.08 * Math.cos(2 * t));
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
    return this.produce(Infinity);
  }

  /** Ends the input: returns the remaining output (input treated as zero past its end). */
  flush(): Float32Array {
    if (this.flushed) return new Float32Array(0);
    this.flushed = true;
    if (this.up === this.down) return new Float32Array(0);
    this.append(new Float32Array((this.half + 1) * this.channels), this.half + 1);
    return this.produce(Math.ceil((this.inFrames * this.up) / this.down));
  }

  private append(input: Float32Array, frames: number): void {
    const ch = this.channels;
    // Drop frames no future output needs (before the next output's window).
    const keepFrom = Math.floor((this.outIndex * this.down) / this.up) - this.half + 1;
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

  /** Every output whose window lies in the buffer, up to `limit` outputs in all. */
  private produce(limit: number): Float32Array {
    const { channels: ch, half, up, down, buf, phases, table } = this;
    const taps = 2 * half;
    const end = this.bufStart + this.bufFrames;
    // Output n needs input frames up to floor(n·down/up) + half, which must be < end.
    const last = Math.floor(((end - half) * up - 1) / down); // the last n with k0 + half < end
    const count = Math.max(0, Math.min(limit, last + 1) - this.outIndex);
    const out = new Float32Array(count * ch);
    for (let o = 0; o < count; o++) {
      const num = this.outIndex * down;
      const k0 = Math.floor(num / up);
      const phase = num - k0 * up;
      const first = (k0 - half + 1 - this.bufStart) * ch;
      for (let c = 0; c < ch; c++) {
        let acc = 0;
        let at = first + c;
        if (phases !== null) {
          const p = phase * taps;
          for (let j = 0; j < taps; j++, at += ch)
            acc += (buf[at] as number) * (phases[p + j] as number);
        } else {
          const frac = phase / up;
          for (let j = 0; j < taps; j++, at += ch) {
            const d = Math.abs(frac + half - 1 - j) * TABLE_STEPS;
            const i = Math.floor(d);
            const t = d - i;
            const w =
              ((table as Float32Array)[i] as number) * (1 - t) +
              ((table as Float32Array)[i + 1] as number) * t;
            acc += (buf[at] as number) * w;
          }
        }
        out[o * ch + c] = acc;
      }
      this.outIndex++;
    }
    return out;
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
