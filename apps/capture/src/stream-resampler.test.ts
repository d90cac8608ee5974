import { describe, expect, it } from 'vitest';
import { StreamResampler } from './stream-resampler.ts';

function sine(n: number, rate: number, hz: number, channels: number): Int16Array {
  const out = new Int16Array(n * channels);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < channels; c++)
      out[i * channels + c] = Math.round(10000 * Math.sin((2 * Math.PI * hz * i) / rate));
  }
  return out;
}

describe('StreamResampler', () => {
  for (const rate of [8000, 16000, 22050, 44100]) {
    it(`${rate} Hz → 48 kHz: same output for any chunking, right length, tone kept`, () => {
      const channels = 2;
      const input = sine(rate, rate, 440, channels); // one second
      const whole = new StreamResampler(rate, 48000, channels).push(input);
      const r = new StreamResampler(rate, 48000, channels);
      const parts: Int16Array[] = [];
      for (let at = 0, k = 1; at < input.length; k++) {
        const n = Math.min(input.length - at, ((k * 37) % 500) * channels + channels);
        parts.push(r.push(input.subarray(at, at + n)));
        at += n;
      }
      const joined = new Int16Array(parts.reduce((s, p) => s + p.length, 0));
      let o = 0;
      for (const p of parts) {
        joined.set(p, o);
        o += p.length;
      }
      expect(Buffer.from(joined.buffer).equals(Buffer.from(whole.buffer))).toBe(true);
      expect(Math.abs(whole.length / channels - 48000)).toBeLessThanOrEqual(1);
      // Compare with the ideal 48 kHz tone (delayed by one input sample).
      const delay = 48000 / rate;
      let err = 0;
      for (let i = 100; i < 47000; i++) {
        const ideal = 10000 * Math.sin((2 * Math.PI * 440 * (i - delay)) / 48000);
        err = Math.max(err, Math.abs((whole[i * channels] as number) - ideal));
      }
      expect(err).toBeLessThan(10000 * 0.05);
    });
  }
});
