/** `pnpm bench fanout --preset= --series= --n= --hold=`: a targeted subset, refused when unknown. */
import { describe, expect, it } from 'vitest';
import { diagnosisSwitch, parseSubset, refusal } from '../fanout-bench.ts';

describe('parseSubset', () => {
  it('keeps the whole bench when no option narrows it', () => {
    const s = parseSubset(['fanout', '--quick']);
    expect(s.presets).toEqual(['low-latency', 'voice']);
    expect(s.series).toEqual([
      'relay-ws',
      'relay-ws-hostile',
      'relay-http',
      'icecast-http',
      'floor',
    ]);
    expect(s.listeners).toBeNull();
    expect(s.given).toEqual([]);
  });

  it('narrows presets, series, listener counts and the hold', () => {
    const s = parseSubset([
      'fanout',
      '--preset=voice',
      '--series=relay-ws,relay-http',
      '--n=5000,10000',
      '--hold=20',
    ]);
    expect(s.presets).toEqual(['voice']);
    expect(s.series).toEqual(['relay-ws', 'relay-http']);
    expect(s.listeners).toEqual([5000, 10000]);
    expect(s.holdMs).toBe(20_000);
    expect(s.given).toHaveLength(4);
  });

  it('takes the number of clean/hostile pairs', () => {
    expect(parseSubset(['--pairs=5']).pairs).toBe(5);
    expect(parseSubset(['--pairs=30']).pairs).toBe(30);
    expect(parseSubset([]).pairs).toBeNull();
  });

  it('accepts the write() floor as a series of its own', () => {
    expect(parseSubset(['--series=floor']).series).toEqual(['floor']);
  });

  it.each([
    ['--preset=music', /--preset: 'music'/],
    ['--series=relay-tcp', /--series: 'relay-tcp'/],
    ['--n=10k', /--n: '10k'/],
    ['--hold=0', /--hold: '0'/],
    ['--pairs=0', /--pairs: '0'/],
    ['--pairs=31', /--pairs: '31'/],
    ['--pairs=1.5', /--pairs: '1.5'/],
  ])('refuses %s', (arg, message) => {
    expect(() => parseSubset([arg])).toThrow(message);
  });
});

describe('refusal', () => {
  it('refuses a full run without the Icecast peer, which it would record without the peer rows', () => {
    expect(refusal(parseSubset([]), false, false)).toMatch(/Icecast 2\.4.*not installed.*subset/);
  });

  it('refuses a full run with a diagnosis switch set, which would record rows that measured something else', () => {
    expect(refusal(parseSubset([]), false, true, 'MXCAST_BENCH_CROWD=generator')).toMatch(
      /full run is recorded, and MXCAST_BENCH_CROWD=generator changes what its hostile rows measure.*subset/,
    );
    expect(
      refusal(
        parseSubset(['--series=relay-ws-hostile']),
        false,
        true,
        'MXCAST_BENCH_HOSTILE_ONLY=flood',
      ),
    ).toBeNull();
  });

  it('names the diagnosis switch set, and refuses a misspelt one', () => {
    const saved = [
      process.env.MXCAST_BENCH_CROWD,
      process.env.MXCAST_BENCH_HOSTILE_ONLY,
      process.env.MXCAST_BENCH_CROWD_LEAD_S,
    ];
    try {
      delete process.env.MXCAST_BENCH_CROWD;
      delete process.env.MXCAST_BENCH_HOSTILE_ONLY;
      delete process.env.MXCAST_BENCH_CROWD_LEAD_S;
      expect(diagnosisSwitch()).toBeNull();
      process.env.MXCAST_BENCH_CROWD_LEAD_S = '0';
      expect(diagnosisSwitch()).toBeNull();
      process.env.MXCAST_BENCH_CROWD_LEAD_S = '31';
      expect(diagnosisSwitch()).toBe('MXCAST_BENCH_CROWD_LEAD_S=31');
      process.env.MXCAST_BENCH_CROWD_LEAD_S = '31s';
      expect(() => diagnosisSwitch()).toThrow(/MXCAST_BENCH_CROWD_LEAD_S: '31s' is not/);
      delete process.env.MXCAST_BENCH_CROWD_LEAD_S;
      process.env.MXCAST_BENCH_CROWD = 'process';
      expect(diagnosisSwitch()).toBeNull();
      process.env.MXCAST_BENCH_CROWD = 'generator';
      expect(diagnosisSwitch()).toBe('MXCAST_BENCH_CROWD=generator');
      process.env.MXCAST_BENCH_HOSTILE_ONLY = 'none';
      // Every switch set is named, not only the first: the printed notes list them all.
      expect(diagnosisSwitch()).toBe(
        'MXCAST_BENCH_HOSTILE_ONLY=none, MXCAST_BENCH_CROWD=generator',
      );
      delete process.env.MXCAST_BENCH_CROWD;
      expect(diagnosisSwitch()).toBe('MXCAST_BENCH_HOSTILE_ONLY=none');
      process.env.MXCAST_BENCH_CROWD = 'generatr';
      expect(() => diagnosisSwitch()).toThrow(/MXCAST_BENCH_CROWD: 'generatr' is not/);
    } finally {
      const [crowd, only, lead] = saved;
      if (crowd === undefined) delete process.env.MXCAST_BENCH_CROWD;
      else process.env.MXCAST_BENCH_CROWD = crowd;
      if (only === undefined) delete process.env.MXCAST_BENCH_HOSTILE_ONLY;
      else process.env.MXCAST_BENCH_HOSTILE_ONLY = only;
      if (lead === undefined) delete process.env.MXCAST_BENCH_CROWD_LEAD_S;
      else process.env.MXCAST_BENCH_CROWD_LEAD_S = lead;
    }
  });

  it('lets a subset, a quick run or a run with the peer go on', () => {
    expect(refusal(parseSubset(['--series=relay-ws']), false, false)).toBeNull();
    expect(refusal(parseSubset([]), true, false)).toBeNull();
    expect(refusal(parseSubset([]), false, true)).toBeNull();
  });
});
