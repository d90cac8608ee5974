/** Conversions between float PCM (−1…1) and 16-bit PCM, and simple channel helpers. */

/** Float samples to Int16 with rounding and clipping (full scale 32767 / −32768). */
export function floatToInt16(input: Float32Array): Int16Array {
  const out = new Int16Array(input.length);
  for (let i = 0; i < input.length; i++) {
    const v = Math.round((input[i] as number) * 32768);
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return out;
}

/** Int16 samples to float (x / 32768), exact and reversible by floatToInt16. */
export function int16ToFloat(input: Int16Array): Float32Array {
  const out = new Float32Array(input.length);
  for (let i = 0; i < input.length; i++) out[i] = (input[i] as number) / 32768;
  return out;
}

/** One channel of interleaved samples. */
export function channelOf<T extends Int16Array | Float32Array>(
  interleaved: T,
  channels: number,
  channel: number,
): T {
  const n = Math.floor(interleaved.length / channels);
  const out = new (interleaved.constructor as new (n: number) => T)(n);
  for (let i = 0; i < n; i++) out[i] = interleaved[i * channels + channel] as number;
  return out;
}

/** Mono ↔ stereo: mono is duplicated, stereo is averaged. Other counts are left to the caller. */
export function remixChannels(input: Float32Array, from: number, to: number): Float32Array {
  if (from === to) return input;
  const frames = Math.floor(input.length / from);
  const out = new Float32Array(frames * to);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < from; c++) sum += input[f * from + c] as number;
    const mean = sum / from;
    for (let c = 0; c < to; c++) out[f * to + c] = from === 1 ? (input[f] as number) : mean;
  }
  return out;
}

/** Root-mean-square level in dBFS (a full-scale sine is −3.01 dBFS); −Infinity for silence. */
export function rmsDbfs(samples: Int16Array | Float32Array): number {
  const scale = samples instanceof Int16Array ? 32768 : 1;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) {
    const v = (samples[i] as number) / scale;
    sum += v * v;
  }
  return 10 * Math.log10(sum / Math.max(1, samples.length));
}
