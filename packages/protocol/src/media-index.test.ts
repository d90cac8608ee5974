import { describe, expect, it } from 'vitest';
import { mediaIndexProblem, type MediaIndex } from './media-index.ts';
import { EMPTY_INDEX } from './testing/index-fixtures.ts';

const live: MediaIndex = {
  state: 'live',
  byte_length: 41240,
  block_count: 40,
  byte_order: 'be',
  header_end: 123,
  block_size: 1031,
  first_offsets: [4, 70],
  geometry: { frame_ms: 20, frames_per_block: 12, block_size: 1031 },
  sha256: null,
  listeners: 3,
  created_at: 1763800000000,
};

describe('mediaIndexProblem', () => {
  it('accepts the documented index, pending and with offsets', () => {
    expect(mediaIndexProblem(live)).toBeNull();
    expect(mediaIndexProblem({ ...live, from: 2, offsets: [123, 1154] })).toBeNull();
    expect(mediaIndexProblem({ ...live, interrupted: true })).toBeNull();
    expect(mediaIndexProblem(EMPTY_INDEX)).toBeNull();
  });

  it('names the first field that is wrong', () => {
    const cases: [unknown, RegExp][] = [
      [null, /not a JSON object/],
      [[live], /not a JSON object/],
      [{ ...live, state: 'paused' }, /index\.state/],
      [{ ...live, byte_length: -1 }, /index\.byte_length/],
      [{ ...live, block_count: '40' }, /index\.block_count/],
      [{ ...live, header_end: 1.5 }, /index\.header_end/],
      [{ ...live, byte_order: 'BE' }, /index\.byte_order/],
      [{ ...live, first_offsets: undefined }, /index\.first_offsets/],
      [{ ...live, first_offsets: [4, -70] }, /index\.first_offsets/],
      [{ ...live, sha256: 5 }, /index\.sha256/],
      [{ ...live, geometry: { frame_ms: 20 } }, /index\.geometry\.frames_per_block/],
      [{ ...live, offsets: [1, 'x'] }, /index\.offsets/],
      [{ ...live, interrupted: 'yes' }, /index\.interrupted/],
    ];
    for (const [value, message] of cases) expect(mediaIndexProblem(value)).toMatch(message);
  });
});
