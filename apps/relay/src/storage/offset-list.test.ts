import { describe, expect, it } from 'vitest';
import { MAX_PERSISTED_RUNS, OffsetList } from './offset-list.ts';

function listOf(offsets: number[]): OffsetList {
  const list = new OffsetList();
  for (const o of offsets) list.push(o);
  return list;
}

describe('OffsetList runs', () => {
  it('turns a CBR-like stream into a few runs and back into the same offsets', () => {
    // Two header blocks of their own sizes, then 5000 blocks of 1031 bytes, then a short last one.
    const offsets = [4, 50];
    for (let i = 0; i < 5000; i++) offsets.push(130 + i * 1031);
    offsets.push(130 + 5000 * 1031);
    const end = (offsets.at(-1) as number) + 200;
    const runs = listOf(offsets).toRuns(end);
    expect(runs).toEqual([
      [46, 1],
      [80, 1],
      [1031, 5000],
      [200, 1],
    ]);
    const back = OffsetList.fromRuns(JSON.parse(JSON.stringify(runs)), end);
    expect(back?.length).toBe(offsets.length);
    for (let i = 0; i < offsets.length; i++) expect(back?.at(i)).toBe(offsets[i]);
  });

  it('refuses runs that do not end at the stored length, or are malformed', () => {
    const runs = [[100, 3]];
    expect(OffsetList.fromRuns(runs, 304)?.length).toBe(3);
    expect(OffsetList.fromRuns(runs, 303)).toBeNull();
    expect(OffsetList.fromRuns(runs, 305)).toBeNull();
    for (const bad of [null, 'x', [[100]], [[0, 3]], [[100, -1]], [[1.5, 2]], [['100', 3]]])
      expect(OffsetList.fromRuns(bad, 304)).toBeNull();
  });

  it('handles the magic alone and the empty file', () => {
    expect(new OffsetList().toRuns(4)).toEqual([]);
    expect(OffsetList.fromRuns([], 4)?.length).toBe(0);
    expect(OffsetList.fromRuns([], 0)?.length).toBe(0);
  });

  it('gives up past MAX_PERSISTED_RUNS (blocks of ever-changing size)', () => {
    const offsets: number[] = [];
    let at = 4;
    for (let i = 0; i <= MAX_PERSISTED_RUNS; i++) {
      offsets.push(at);
      at += 20 + (i % 2);
    }
    expect(listOf(offsets).toRuns(at)).toBeNull();
  });
});
