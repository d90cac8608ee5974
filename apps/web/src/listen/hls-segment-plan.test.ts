import { PRESETS } from '@mxcast/audio';
import { describe, expect, it } from 'vitest';
import { blocksPerSegment, segmentPlan } from './hls-segment-plan.ts';

const geometryOf = (name: keyof typeof PRESETS) => ({
  frame_ms: PRESETS[name].frameMs,
  frames_per_block: PRESETS[name].framesPerBlock,
});

describe('HLS segment plan', () => {
  it('follows the relay playlist: round(2000 / block_ms) blocks per segment (docs/protocol.md)', () => {
    expect(blocksPerSegment(geometryOf('voice'))).toBe(8); // 240 ms blocks: 1.92 s
    expect(blocksPerSegment(geometryOf('music'))).toBe(33); // 60 ms blocks: 1.98 s
    expect(blocksPerSegment(geometryOf('low-latency'))).toBe(100); // 20 ms blocks
    expect(blocksPerSegment({ frame_ms: 20, frames_per_block: 250 })).toBe(1); // 5 s blocks
  });

  it('places segment n at seq 2 + n × blocks, from the playlist position alone', () => {
    const voice = geometryOf('voice');
    expect(segmentPlan(voice, 0, false)).toEqual({ sn: 0, firstSeq: 2, blocks: 8, tail: false });
    expect(segmentPlan(voice, 3, true)).toEqual({ sn: 3, firstSeq: 26, blocks: 8, tail: true });
    expect(() => segmentPlan(voice, -1, false)).toThrow(RangeError);
    expect(() => segmentPlan(voice, 1.5, false)).toThrow(RangeError);
  });
});
