import { describe, expect, it } from 'vitest';
import { isAudioError } from './audio-error.ts';
import { estimateFrequency, goertzelPower } from './frequency.ts';
import { channelOf, rmsDbfs } from './pcm.ts';
import { createSignal } from './test-signals.ts';
import { readTimecode, timecodeFrequencyAt, timecodeSegmentOf } from './timecode.ts';

describe('createSignal', () => {
  it('makes a sine at the asked frequency, default 440, at the asked amplitude on every channel', () => {
    const s = createSignal('sine', { sampleRate: 16000, channels: 2, amplitude: 0.25 });
    const pcm = s.read(16000);
    expect(s.position).toBe(16000);
    expect(pcm.length).toBe(32000);
    expect(channelOf(pcm, 2, 0)).toEqual(channelOf(pcm, 2, 1));
    expect(estimateFrequency(channelOf(pcm, 2, 0), 16000)).toBeCloseTo(440, 1);
    expect(rmsDbfs(pcm)).toBeCloseTo(20 * Math.log10(0.25 / Math.SQRT2), 1);
    expect(estimateFrequency(createSignal('sine:1234.5').readFloat(48000), 48000)).toBeCloseTo(
      1234.5,
      1,
    );
  });

  it('sweeps linearly from F1 to F2 over the given seconds, then repeats', () => {
    const s = createSignal('sweep:200-2200:2', { sampleRate: 8000 });
    const x = s.readFloat(8000 * 4);
    const around = (t: number): number =>
      estimateFrequency(x.subarray(t * 8000 - 400, t * 8000 + 400), 8000);
    expect(around(0.5)).toBeCloseTo(700, -1);
    expect(around(1)).toBeCloseTo(1200, -1);
    expect(around(2.5)).toBeCloseTo(700, -1);
  });

  it('steps the time code every second, phase-continuously, and reads it back', () => {
    const x = createSignal('timecode', { sampleRate: 48000 }).readFloat(48000 * 22);
    for (const n of [0, 1, 7, 19, 20, 21]) {
      const mid = x.subarray(n * 48000 + 12000, n * 48000 + 36000);
      expect(readTimecode(mid, 48000)).toBe(n % 20);
      expect(estimateFrequency(mid, 48000)).toBeCloseTo(timecodeFrequencyAt(n), 0);
    }
    // No click at a change: neighbouring samples never jump more than the faster tone allows.
    let maxStep = 0;
    for (let i = 47990; i < 48010; i++)
      maxStep = Math.max(maxStep, Math.abs((x[i + 1] as number) - (x[i] as number)));
    expect(maxStep).toBeLessThan((0.5 * 2 * Math.PI * 350) / 48000 + 1e-3);
    expect(timecodeSegmentOf(315)).toBeNull();
    expect(timecodeSegmentOf(312)).toBe(0);
    expect(timecodeSegmentOf(1251)).toBe(19);
    expect(timecodeSegmentOf(1400)).toBeNull();
    expect(timecodeSegmentOf(299.9)).toBe(0);
  });

  it('makes silence, deterministic white noise, and a speech-like voice with pauses', () => {
    expect(
      createSignal('silence')
        .read(960)
        .every((v) => v === 0),
    ).toBe(true);
    const a = createSignal('noise').read(4800);
    expect(createSignal('noise').read(4800)).toEqual(a);
    expect(rmsDbfs(a)).toBeCloseTo(20 * Math.log10(0.5 / Math.sqrt(3)), 0);
    const v = createSignal('voice', { amplitude: 0.5 }).readFloat(48000 * 4);
    expect(v.reduce((m, x) => Math.max(m, Math.abs(x)), 0)).toBeLessThanOrEqual(0.5);
    // Voiced parts and pauses: 20 ms windows both loud (> −30 dBFS) and near-silent (< −60 dBFS).
    const levels = Array.from({ length: 200 }, (_, i) =>
      rmsDbfs(v.subarray(i * 960, (i + 1) * 960)),
    );
    expect(levels.filter((l) => l > -30).length).toBeGreaterThan(40);
    expect(levels.filter((l) => l < -60).length).toBeGreaterThan(10);
    // Formant energy: more power in the speech band (500 Hz) than high up (7 kHz).
    expect(goertzelPower(v, 48000, 500)).toBeGreaterThan(goertzelPower(v, 48000, 7000));
  });

  it('names bad specs and options', () => {
    const message = (spec: string, options = {}): string => {
      try {
        createSignal(spec, options);
      } catch (err) {
        return isAudioError(err) ? `${err.code}: ${err.message}` : String(err);
      }
      return 'no error';
    };
    expect(message('square')).toMatch(
      /BAD_SIGNAL: unknown test signal "square"; use one of sine, sweep/,
    );
    expect(message('sine:abc')).toMatch(/frequency "abc" is not a positive number/);
    expect(message('sine:30000')).toMatch(/30000 Hz is not below 24000 Hz/);
    expect(message('sweep:100')).toMatch(/BAD_SIGNAL/);
    expect(message('silence:3')).toMatch(/wrong number of ":" arguments/);
    expect(message('sine', { channels: 0 })).toMatch(/UNSUPPORTED_CHANNELS/);
    expect(message('sine', { amplitude: 2 })).toMatch(/amplitude 2/);
  });
});
