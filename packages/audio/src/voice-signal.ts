/**
 * A speech-like demo signal: a glottal sawtooth (with intonation and jitter) through three
 * formant resonators, vowels changing every syllable, syllables shaped by an envelope and
 * grouped into words with pauses. Not intelligible; it exercises a voice codec the way speech
 * does (pitch, formants, onsets, silences) with no recording to ship.
 */

/** Formant frequencies (Hz) of five vowels (Peterson & Barney averages, male voice). */
const VOWELS: readonly [number, number, number][] = [
  [730, 1090, 2440], // a
  [530, 1840, 2480], // e
  [270, 2290, 3010], // i
  [570, 840, 2410], // o
  [300, 870, 2240], // u
];
const BANDWIDTHS = [90, 110, 170];

/** xorshift32: a small seeded PRNG so the demo signal is the same every run. */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

class Resonator {
  private y1 = 0;
  private y2 = 0;
  private a0 = 0;
  private b1 = 0;
  private b2 = 0;

  tune(freq: number, bandwidth: number, rate: number): void {
    const r = Math.exp((-Math.PI * bandwidth) / rate);
    this.b1 = 2 * r * Math.cos((2 * Math.PI * freq) / rate);
    this.b2 = -r * r;
    this.a0 = 1 - r; // rough unity gain at the centre frequency
  }

  step(x: number): number {
    const y = this.a0 * x + this.b1 * this.y1 + this.b2 * this.y2;
    this.y2 = this.y1;
    this.y1 = y;
    return y;
  }
}

/** Returns a generator of mono float samples at `rate`, peak near `amplitude`. */
export function createVoiceGenerator(rate: number, amplitude: number, seed = 1): () => number {
  const random = xorshift32(seed);
  const filters = [new Resonator(), new Resonator(), new Resonator()];
  const current = [...(VOWELS[0] as [number, number, number])];
  let target = VOWELS[0] as [number, number, number];
  let phase = 0;
  let t = 0; // samples into the current syllable or pause
  let length = 0; // samples in the current syllable or pause
  let voiced = false;
  let syllablesLeft = 0;
  let basePitch = 120;
  let n = 0;
  const next = (): void => {
    t = 0;
    if (syllablesLeft === 0) {
      // A pause between words, then a word of 1–4 syllables.
      voiced = false;
      length = Math.round(rate * (0.12 + 0.3 * random()));
      syllablesLeft = 1 + Math.floor(random() * 4);
      basePitch = 105 + 30 * random();
      return;
    }
    voiced = true;
    syllablesLeft--;
    length = Math.round(rate * (0.14 + 0.14 * random()));
    target = VOWELS[Math.floor(random() * VOWELS.length)] as [number, number, number];
  };
  next();
  return () => {
    if (t >= length) next();
    // Glide formants toward the syllable's vowel, retuning every 32 samples.
    if (n % 32 === 0) {
      for (let k = 0; k < 3; k++) {
        current[k] =
          (current[k] as number) + 0.08 * ((target[k] as number) - (current[k] as number));
        (filters[k] as Resonator).tune(current[k] as number, BANDWIDTHS[k] as number, rate);
      }
    }
    n++;
    const progress = t / length;
    t++;
    if (!voiced) return 0.002 * amplitude * (random() - 0.5);
    // Falling intonation across the syllable, a little jitter.
    const pitch = basePitch * (1.1 - 0.2 * progress) * (1 + 0.01 * (random() - 0.5));
    phase += pitch / rate;
    if (phase >= 1) phase -= 1;
    const source = 2 * phase - 1 + 0.15 * (random() - 0.5);
    let y = source;
    for (const f of filters) y = f.step(y) * 6;
    // Envelope: fast attack, sustain, release (raised-cosine edges of 30 ms).
    const edge = Math.min(1, t / rate / 0.03, (length - t) / rate / 0.03);
    const env = 0.5 - 0.5 * Math.cos(Math.PI * Math.max(0, edge));
    return amplitude * Math.tanh(y * env);
  };
}
