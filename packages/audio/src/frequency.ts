/**
 * Frequency measurement for tests and the time-coded test tone: where a decoded tone is, and
 * what it is, without a full FFT.
 */

/**
 * The dominant frequency of a (mono) tone, from the mean spacing of rising zero crossings,
 * each placed between samples by linear interpolation. Good to well under 1 Hz for a clean
 * tone over a few hundred milliseconds; NaN when there are fewer than two crossings.
 */
export function estimateFrequency(samples: Int16Array | Float32Array, sampleRate: number): number {
  let first = -1;
  let last = -1;
  let count = 0;
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1] as number;
    const b = samples[i] as number;
    if (a < 0 && b >= 0) {
      const at = i - 1 + -a / (b - a);
      if (first < 0) first = at;
      last = at;
      count++;
    }
  }
  if (count < 2) return NaN;
  return ((count - 1) * sampleRate) / (last - first);
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
