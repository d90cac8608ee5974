import { describe, expect, it } from 'vitest';
import { PlayerError } from './player-error.ts';
import {
  PRE_ROLL_SAMPLES,
  blockOffset,
  blockStartSample,
  parseTime,
  planSeek,
  type PlaybackGeometry,
} from './stream-geometry.ts';

const voice: PlaybackGeometry = {
  headerEnd: 123,
  blockSize: 1031,
  samplesPerBlock: 11_520,
  startGranule: 0,
  preSkip: 312,
  channels: 1,
};

describe('planSeek', () => {
  it('starts at the latest block that leaves at least 80 ms of pre-roll (RFC 7845 §4.6)', () => {
    for (let target = 0; target < 200_000; target += 997) {
      const plan = planSeek(voice, target);
      const start = blockStartSample(voice, plan.seq);
      if (plan.seq > 2) {
        expect(start).toBeLessThanOrEqual(target - PRE_ROLL_SAMPLES);
        // the next block would not leave enough pre-roll: the plan is the tightest
        expect(blockStartSample(voice, plan.seq + 1)).toBeGreaterThan(target - PRE_ROLL_SAMPLES);
      } else {
        expect(target - PRE_ROLL_SAMPLES).toBeLessThan(blockStartSample(voice, 3));
      }
      expect(plan.offset).toBe(voice.headerEnd + (plan.seq - 2) * 1031);
      expect(plan.targetSample).toBe(target);
    }
  });

  it('clamps to the last block that exists', () => {
    expect(planSeek(voice, 48_000 * 3600, 50).seq).toBe(49);
  });

  it('refuses negative targets and header blocks', () => {
    expect(() => planSeek(voice, -1)).toThrow(PlayerError);
    expect(() => blockOffset(voice, 1)).toThrow(/header block/);
    expect(() => blockOffset({ ...voice, blockSize: null }, 5)).toThrow(/vary/);
  });
});

describe('parseTime', () => {
  it('reads seconds and h:mm:ss', () => {
    expect(parseTime('90')).toBe(90);
    expect(parseTime('12.5')).toBe(12.5);
    expect(parseTime('1:02')).toBe(62);
    expect(parseTime('1:00:01.5')).toBe(3601.5);
  });
  it('names a bad time', () => {
    for (const bad of ['', 'abc', '1:2:3:4', '-5', '1h'])
      expect(() => parseTime(bad)).toThrow(/not seconds or h:mm:ss/);
  });
});
