import { describe, expect, it } from 'vitest';
import { JitterBuffer } from './jitter-buffer.ts';
import type { PcmChunk } from './opus-page-decoder.ts';

const chunk = (startSample: number, frames = 960): PcmChunk => ({
  pcm: Int16Array.from({ length: frames }, (_, i) => (startSample + i) % 32768),
  channels: 1,
  startSample,
});

describe('JitterBuffer', () => {
  it('keeps the target at its minimum for evenly spaced arrivals', () => {
    const jb = new JitterBuffer({ channels: 1, minTargetMs: 20 });
    for (let i = 0; i < 50; i++) jb.push(chunk(i * 960), i * 20);
    expect(jb.jitterMs).toBe(0);
    expect(jb.targetMs).toBe(20);
  });

  it('grows the target with arrival jitter (RFC 3550 estimator)', () => {
    const jb = new JitterBuffer({ channels: 1, minTargetMs: 20 });
    for (let i = 0; i < 200; i++) jb.push(chunk(i * 960), i * 20 + (i % 2 === 0 ? 0 : 30));
    expect(jb.jitterMs).toBeGreaterThan(20);
    expect(jb.targetMs).toBeGreaterThan(100);
  });

  it('releases audio on the clock after the target, sliced at the exact sample', () => {
    const jb = new JitterBuffer({ channels: 1, minTargetMs: 20 });
    jb.push(chunk(0), 1000);
    jb.push(chunk(960), 1000);
    expect(jb.pull(1010)).toEqual([]);
    expect(jb.state).toBe('buffering');
    const first = jb.pull(1030); // 10 ms after the anchor: 480 samples due
    expect(jb.state).toBe('playing');
    expect(first.reduce((n, c) => n + c.pcm.length, 0)).toBe(480);
    const rest = jb.pull(1060); // 40 ms after the anchor: 1920 due in all
    expect(rest.reduce((n, c) => n + c.pcm.length, 0)).toBe(1440);
    const all = [...first, ...rest].flatMap((c) => Array.from(c.pcm));
    expect(all).toEqual(Array.from({ length: 1920 }, (_, i) => i));
  });

  it('goes back to buffering on an underrun and raises the target', () => {
    const jb = new JitterBuffer({ channels: 1, minTargetMs: 20 });
    jb.push(chunk(0), 0);
    const before = jb.targetMs;
    jb.pull(100); // 80 ms due, only 20 ms there
    expect(jb.state).toBe('buffering');
    expect(jb.underruns).toBe(1);
    expect(jb.targetMs).toBeGreaterThan(before);
  });
});
