import { describe, expect, it } from 'vitest';
import { estimateFrequency, measureTone } from './frequency.ts';

const RATE = 48000;

function sine(hz: number, seconds: number, phase = 0): Float32Array {
  const out = new Float32Array(Math.round(seconds * RATE));
  for (let i = 0; i < out.length; i++) out[i] = Math.sin(phase + (2 * Math.PI * hz * i) / RATE);
  return out;
}

/** Deterministic noise in [-0.05, 0.05) (a small LCG: the same every run). */
function noise(seconds: number): Float32Array {
  const out = new Float32Array(Math.round(seconds * RATE));
  let x = 12345;
  for (let i = 0; i < out.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = (x / 2 ** 32 - 0.5) * 0.1;
  }
  return out;
}

function concat(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe('measureTone', () => {
  it('reads a clean tone to well under 1 Hz, every period steady', () => {
    for (const hz of [440, 660, 1234.5]) {
      const t = measureTone(sine(hz, 1), RATE);
      expect(Math.abs(t.hz - hz)).toBeLessThan(0.5);
      expect(t.steady).toBe(1);
    }
  });

  it('is not moved by a 30 ms dropout of low noise, where the mean of the periods is', () => {
    const glitched = concat(sine(660, 0.5), noise(0.03), sine(660, 0.47, 1));
    // The mean (estimateFrequency) counts the noise's extra crossings as tone.
    expect(Math.abs(estimateFrequency(glitched, RATE) - 660)).toBeGreaterThan(10);
    const t = measureTone(glitched, RATE);
    expect(Math.abs(t.hz - 660)).toBeLessThan(0.5);
    expect(t.steady).toBeGreaterThan(0.6);
    expect(t.steady).toBeLessThan(1);
  });

  it('calls noise unsteady and silence unmeasurable', () => {
    expect(measureTone(noise(1), RATE).steady).toBeLessThan(0.2);
    expect(measureTone(new Float32Array(RATE), RATE)).toEqual({ hz: NaN, steady: 0 });
  });
});
