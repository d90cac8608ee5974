import { PRESETS } from '@mxcast/audio';
import { describe, expect, it } from 'vitest';
import { blocksPerPart, blocksPerSegment, partPlan, segmentPlan } from './hls-segment-plan.ts';

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

  it('cuts segments in parts the way the relay does (~200 ms): Voice 1, Music 3, Low latency 10 blocks', () => {
    expect(blocksPerPart(geometryOf('voice'))).toBe(1);
    expect(blocksPerPart(geometryOf('music'))).toBe(3);
    expect(blocksPerPart(geometryOf('low-latency'))).toBe(10);
    expect(blocksPerPart({ frame_ms: 20, frames_per_block: 250 })).toBe(1);
    const music = geometryOf('music');
    // Segment 2 of Music starts at 2 + 2 × 33 = 68; its part 10 is the last three blocks.
    expect(partPlan(music, 2, 0)).toEqual({ sn: 2, part: 0, firstSeq: 68, blocks: 3, tail: false });
    expect(partPlan(music, 2, 10)).toEqual({
      sn: 2,
      part: 10,
      firstSeq: 98,
      blocks: 3,
      tail: false,
    });
    expect(() => partPlan(music, 2, 11)).toThrow(RangeError);
    // A segment whose length is not a multiple of the part: the last part is shorter.
    const odd = { frame_ms: 20, frames_per_block: 7 }; // 140 ms blocks: 14 per segment, 1 per part
    expect(blocksPerPart(odd)).toBe(1);
    const g = { frame_ms: 20, frames_per_block: 4 }; // 80 ms: 25 per segment, 3 per part (8 + 1)
    expect(partPlan(g, 0, 8)).toMatchObject({ firstSeq: 26, blocks: 1 });
    // Parts tile their segment: the last part ends where the next segment starts.
    const voice = geometryOf('voice');
    const last = partPlan(voice, 4, 7);
    expect(last.firstSeq + last.blocks).toBe(segmentPlan(voice, 5, false).firstSeq);
  });

  it('a part of a finished tail may be short: at most the run, like a tail segment', () => {
    const music = geometryOf('music');
    expect(partPlan(music, 2, 4, true)).toEqual({
      sn: 2,
      part: 4,
      firstSeq: 80,
      blocks: 3,
      tail: true,
    });
    expect(partPlan(music, 2, 4)).toMatchObject({ tail: false });
  });
});
