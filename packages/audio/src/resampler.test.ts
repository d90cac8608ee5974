import { describe, expect, it } from 'vitest';
import { estimateFrequency, goertzelPower } from './frequency.ts';
import { channelOf, rmsDbfs } from './pcm.ts';
import { Resampler, resample } from './resampler.ts';
import { createSignal } from './test-signals.ts';

describe('resample', () => {
  for (const [from, to, f] of [
    [44100, 48000, 1000],
    [8000, 48000, 440],
    [12000, 48000, 3000],
    [16000, 48000, 5000],
    [24000, 48000, 10000],
    [48000, 16000, 2500],
    [22050, 48000, 7000],
    [44101, 48000, 1000], // coprime rates: the interpolated-table path, not polyphase
  ] as const) {
    it(`keeps a ${f} Hz tone's frequency and level from ${from} to ${to} Hz`, () => {
      const input = createSignal(`sine:${f}`, { sampleRate: from, channels: 2 }).readFloat(from);
      const out = resample(input, from, to, 2);
      expect(out.length).toBe(2 * to);
      for (let c = 0; c < 2; c++) {
        // Skip the edges, where the input starts and stops abruptly.
        const mid = channelOf(out, 2, c).subarray(to / 10, to - to / 10);
        expect(estimateFrequency(mid, to)).toBeCloseTo(f, 0);
        expect(rmsDbfs(mid)).toBeCloseTo(rmsDbfs(input), 1);
      }
    });
  }

  it('filters out what the lower rate cannot carry instead of aliasing it', () => {
    // 6 kHz at 48 kHz → 8 kHz would alias to 2 kHz; it must be removed (> 60 dB down).
    const tone = createSignal('sine:6000', { sampleRate: 48000 }).readFloat(48000);
    const out = resample(tone, 48000, 8000, 1).subarray(800, 7200);
    const ref = createSignal('sine:2000', { sampleRate: 8000 }).readFloat(6400);
    expect(
      10 * Math.log10(goertzelPower(out, 8000, 2000) / goertzelPower(ref, 8000, 2000)),
    ).toBeLessThan(-60);
  });

  it('gives the same output however the input is split (streaming)', () => {
    const input = createSignal('sweep:100-7000:1', { sampleRate: 16000, channels: 2 }).readFloat(
      3000,
    );
    const whole = resample(input, 16000, 44100, 2);
    for (const step of [1, 7, 160, 999]) {
      const r = new Resampler(16000, 44100, 2);
      const parts: Float32Array[] = [];
      for (let i = 0; i < input.length; i += step * 2)
        parts.push(r.push(input.subarray(i, i + step * 2)));
      parts.push(r.flush());
      const joined = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        joined.set(p, at);
        at += p.length;
      }
      expect(joined).toEqual(whole);
    }
  });

  it('passes through equal rates and rejects bad rates', () => {
    const x = Float32Array.of(0.1, -0.2, 0.3);
    expect(resample(x, 48000, 48000, 1)).toEqual(x);
    expect(() => new Resampler(0, 48000, 1)).toThrow(/input rate 0 Hz/);
    expect(() => new Resampler(48000, 44100, 2).push(new Float32Array(3))).toThrow(
      /not whole frames of 2/,
    );
  });
});
