import { describe, expect, it } from 'vitest';
import { geometryProblem } from '@mxcast/protocol';
import { declaredGeometryOf } from './stream-geometry.ts';

describe('declaredGeometryOf', () => {
  it('turns the wire geometry (link g, event stream info) into the Player option', () => {
    const wire = {
      frame_ms: 20,
      frames_per_block: 12,
      bitrate: 32000,
      block_size: 1031,
      sample_rate: 48000,
      channels: 2,
    };
    expect(geometryProblem(wire)).toBeNull();
    expect(declaredGeometryOf(wire)).toEqual({
      frameMs: 20,
      framesPerBlock: 12,
      blockSize: 1031,
      channels: 2,
    });
  });

  it('leaves channels out when the declaration has none (the relay requires only three fields)', () => {
    const wire = { frame_ms: 2.5, frames_per_block: 8, block_size: 200 };
    expect(geometryProblem(wire, { complete: false })).toBeNull();
    const g = declaredGeometryOf(wire);
    expect(g).toEqual({ frameMs: 2.5, framesPerBlock: 8, blockSize: 200 });
    expect(g).not.toHaveProperty('channels');
  });
});
