/**
 * Frequency measurement for tests and the time-coded test tone: where a decoded tone is, and
 * what it is, without a full FFT.
 */

/** Where the samples cross zero rising, each placed between samples by linear interpolation. */
function risingCrossings(samples: Int16Array | Float32Array): number[] {
  const at: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1] as number;
    const b = samples[i] as number;
    if (a < 0 && b >= 0) at.push(i - 1 + -a / (b - a));
  }
  return at;
}

/**
 * The dominant frequency of a (mono) tone, from the mean spacing of rising zero crossings
 * (`risingCrossings`). Good to well under 1 Hz for a clean tone over a few hundred
 * milliseconds; NaN when there are fewer than two crossings.
 */
export function estimateFrequency(samples: Int16Array | Float32Array, sampleRate: number): number {
  const at = risingCrossings(samples);
  if (at.length < 2) return NaN;
  return ((at.length - 1) * sampleRate) / (at[at.length - 1]! - at[0]!);
}

/** A tone measured period by period: see `measureTone`. */
export interface ToneMeasure {
  /** The frequency of the median period (Hz); NaN when there are fewer than two crossings. */
  hz: number;
  /** The share of periods within 2 % of the median one: 1 for a clean tone. */
  steady: number;
}

/**
 * A tone's frequency from the median spacing of its rising zero crossings, and how steady it
 * is. Unlike `estimateFrequency`'s mean, one glitch in the source (a live capture that missed
 * a few milliseconds under load adds crossings of its own) moves the median by nothing; a
 * stream that is mostly not the tone shows up as a low `steady` instead.
 */
export function measureTone(samples: Int16Array | Float32Array, sampleRate: number): ToneMeasure {
  const at = risingCrossings(samples);
  const periods = at.slice(1).map((t, i) => t - at[i]!);
  if (periods.length === 0) return { hz: NaN, steady: 0 };
  const sorted = [...periods].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const steady = periods.filter((p) => Math.abs(p - median) <= 0.02 * median).length;
  return { hz: sampleRate / median, steady: steady / periods.length };
}

/** Power of one frequency in the samples (Goertzel algorithm), normalised to the window length. */
export function goertzelPower(
  samples: Int16Array | Float32Array,
  sampleRate: number,
  frequency: number,
): number {
  const w = (2 * Math.PI * frequency) / sampleRate;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < samples.length; i++) {
    const s0 = (samples[i] as number) + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return power / (samples.length * samples.length);
}
