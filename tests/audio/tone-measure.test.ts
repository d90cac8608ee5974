/**
 * The browser tests' tone measure on synthetic spectra: each is what an AnalyserNode reports
 * (Blackman window, magnitude of a plain DFT, in dB — Web Audio "AnalyserNode" FFT steps,
 * without the smoothing over time), computed here from a known sine.
 */
import { describe, expect, it } from 'vitest';
import {
  isTone,
  SILENT,
  spectrumPeak,
  strongestTone,
  type AnalyserSpectrum,
} from './tone-measure.ts';

const RATE = 48_000;
const FFT = 4096;

/** The dB spectrum an analyser of `FFT` points gives for `samples` (its first FFT samples). */
function analyse(samples: Float32Array): AnalyserSpectrum {
  const x = new Float64Array(FFT);
  for (let n = 0; n < FFT; n++) {
    const w =
      0.42 - 0.5 * Math.cos((2 * Math.PI * n) / FFT) + 0.08 * Math.cos((4 * Math.PI * n) / FFT);
    x[n] = samples[n]! * w;
  }
  const binsDb = new Float32Array(FFT / 2);
  for (let k = 0; k < FFT / 2; k++) {
    let re = 0;
    let im = 0;
    const step = (2 * Math.PI * k) / FFT;
    for (let n = 0; n < FFT; n++) {
      re += x[n]! * Math.cos(step * n);
      im -= x[n]! * Math.sin(step * n);
    }
    binsDb[k] = 20 * Math.log10(Math.hypot(re, im) / FFT);
  }
  return { binsDb, sampleRate: RATE, fftSize: FFT };
}

function sine(hz: number, amplitude = 0.5): Float32Array {
  return Float32Array.from(
    { length: FFT },
    (_, n) => amplitude * Math.sin((2 * Math.PI * hz * n) / RATE),
  );
}

/** Deterministic white noise (a linear congruential generator), so that a failure replays. */
function noise(amplitude: number, seed = 1): Float32Array {
  let state = seed;
  return Float32Array.from({ length: FFT }, () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return amplitude * (state / 2 ** 30 - 1);
  });
}

describe('tone measure', () => {
  it('finds a sine between bins within 1 Hz (bins are 11.7 Hz apart here)', () => {
    for (const hz of [440, 660, 1000.7, 3217.3]) {
      const tone = spectrumPeak(analyse(sine(hz)));
      expect(Math.abs(tone.hz - hz), `${hz} Hz measured as ${tone.hz}`).toBeLessThan(1);
      expect(tone.db).toBeGreaterThan(-30);
      expect(tone.prominenceDb).toBeGreaterThan(30);
      expect(isTone(tone, hz)).toBe(true);
    }
  });

  it('does not take a bin-centred guess for the refined frequency', () => {
    // Half-way between two bins the unrefined peak would be 5.9 Hz off.
    const hz = 40.5 * (RATE / FFT);
    const tone = spectrumPeak(analyse(sine(hz)));
    expect(Math.abs(tone.hz - hz)).toBeLessThan(1);
  });

  it('reports silence as no tone at all', () => {
    const silent = spectrumPeak(analyse(new Float32Array(FFT)));
    expect(silent).toEqual(SILENT);
    expect(isTone(silent, 440)).toBe(false);
    expect(strongestTone([])).toEqual(SILENT);
  });

  it('tells noise from a tone by its prominence, and a quiet tone by its level', () => {
    const hiss = spectrumPeak(analyse(noise(0.5)));
    expect(hiss.db).toBeGreaterThan(-75);
    expect(hiss.prominenceDb).toBeLessThan(30);
    expect(isTone(hiss, hiss.hz)).toBe(false);
    const faint = spectrumPeak(analyse(sine(440, 1e-5)));
    expect(Math.abs(faint.hz - 440)).toBeLessThan(1);
    expect(isTone(faint, 440)).toBe(false);
    expect(isTone(faint, 440, { minDb: -120 })).toBe(true);
  });

  it('takes the loudest of several analysers, and each window on its own', () => {
    // Two AudioContexts: one plays 440 Hz quietly, the other 660 Hz loudly, a third is silent.
    const quiet = analyse(sine(440, 0.05));
    const loud = analyse(sine(660, 0.5));
    const silent = analyse(new Float32Array(FFT));
    const tone = strongestTone([quiet, silent, loud]);
    expect(Math.abs(tone.hz - 660)).toBeLessThan(1);
    expect(Math.abs(strongestTone([silent, quiet]).hz - 440)).toBeLessThan(1);
    // A signal that changes pitch: each window measures its own half, not a blend.
    const first = sine(440);
    const second = sine(550);
    expect(Math.abs(spectrumPeak(analyse(first)).hz - 440)).toBeLessThan(1);
    expect(Math.abs(spectrumPeak(analyse(second)).hz - 550)).toBeLessThan(1);
  });

  it('refuses a tone outside the tolerance', () => {
    const tone = spectrumPeak(analyse(sine(452)));
    expect(isTone(tone, 440)).toBe(false);
    expect(isTone(tone, 440, { toleranceHz: 15 })).toBe(true);
  });
});
