import { describe, expect, it } from 'vitest';
import {
  geometryProblem,
  pickGeometry,
  streamGeometryOf,
  type StreamGeometry,
} from './stream-geometry.ts';

const voice: StreamGeometry = {
  frame_ms: 20,
  frames_per_block: 12,
  bitrate: 32000,
  block_size: 1031,
  sample_rate: 48000,
  channels: 1,
};

describe('geometryProblem', () => {
  it('accepts a full geometry, and a declared one with only the required fields', () => {
    expect(geometryProblem(voice)).toBeNull();
    expect(geometryProblem({ ...voice, frame_ms: 2.5 })).toBeNull();
    const minimal = { frame_ms: 20, frames_per_block: 12, block_size: 1031 };
    expect(geometryProblem(minimal, { complete: false })).toBeNull();
    expect(geometryProblem(minimal)).toMatch(/geometry\.bitrate must be a positive integer/);
  });

  it('refuses what no Opus stream can have, naming the field', () => {
    const cases: [unknown, RegExp][] = [
      [null, /not an object/],
      [[voice], /not an object/],
      [{ ...voice, frame_ms: 21 }, /geometry\.frame_ms must be an Opus frame duration/],
      [{ ...voice, frame_ms: 1e-300 }, /geometry\.frame_ms/],
      [{ ...voice, frames_per_block: 0 }, /geometry\.frames_per_block/],
      [{ ...voice, block_size: 1031.5 }, /geometry\.block_size/],
      [{ ...voice, channels: '1' }, /geometry\.channels/],
      [{ ...voice, bitrate: 2e9 }, /geometry\.bitrate/],
    ];
    for (const [g, message] of cases) {
      expect(geometryProblem(g), JSON.stringify(g)).toMatch(message);
      expect(geometryProblem(g, { complete: false })).toMatch(message);
    }
  });

  it('pickGeometry drops keys that are not geometry (a stream info preset, say)', () => {
    expect(pickGeometry({ ...voice, preset: 'voice' } as StreamGeometry)).toEqual(voice);
  });

  it('streamGeometryOf turns a block geometry into the wire form, which passes the check', () => {
    const g = streamGeometryOf(
      { frameMs: 20, framesPerBlock: 12, bitrate: 32000, blockBytes: 1031 },
      1,
    );
    expect(g).toEqual(voice);
    expect(geometryProblem(g)).toBeNull();
    expect(
      streamGeometryOf({ frameMs: 20, framesPerBlock: 3, bitrate: 128000, blockBytes: 1025 }, 2),
    ).toMatchObject({ frames_per_block: 3, bitrate: 128000, block_size: 1025, channels: 2 });
  });
});
