/**
 * StreamResampler: converts a PCM stream that arrives in chunks (stdin at `--rate`) to 48 kHz,
 * carrying its position and the last input frame across chunks so chunk boundaries leave no
 * clicks or gaps. Linear interpolation: enough for the speech-band inputs (8–24 kHz) stdin brings,
 * and Opus's own band limit hides its images above the input's Nyquist rate.
 */
export class StreamResampler {
  /**
   * Position of the next output sample in this chunk's frames (see `push`), in units of
   * 1/toRate frame: integers, so the result does not depend on how the input was chunked.
   */
  private pos = 0;
  private prev: Int16Array;
  private started = false;

  constructor(
    readonly fromRate: number,
    readonly toRate: number,
    readonly channels: number,
  ) {
    this.prev = new Int16Array(channels);
  }

  /** Resamples one chunk of interleaved frames; returns the output frames it completes. */
  push(input: Int16Array): Int16Array {
    const ch = this.channels;
    const frames = input.length / ch;
    if (frames === 0) return new Int16Array(0);
    if (!this.started) {
      // Treat the frame before the first as equal to it: no ramp in from zero.
      this.prev = input.slice(0, ch);
      this.started = true;
    }
    // Input position p lies between frame p-1 (frame -1 = the previous chunk's last) and p.
    const at = (frame: number, c: number) =>
      frame < 0 ? (this.prev[c] as number) : (input[frame * ch + c] as number);
    // Every output position p = pos + k·step with p < frames: interpolating frames p-1 and p.
    const end = frames * this.toRate;
    const outFrames = end > this.pos ? Math.ceil((end - this.pos) / this.fromRate) : 0;
    const out = new Int16Array(outFrames * ch);
    let p = this.pos;
    for (let o = 0; o < outFrames; o++) {
      const i = Math.floor(p / this.toRate);
      const f = (p - i * this.toRate) / this.toRate;
      for (let c = 0; c < ch; c++) {
        const a = at(i - 1, c);
        const b = at(i, c);
        out[o * ch + c] = Math.round(a + (b - a) * f);
      }
      p += this.fromRate;
    }
    this.pos = p - end;
    this.prev = input.slice((frames - 1) * ch, frames * ch);
    return out;
  }
}
