import { describe, expect, it } from 'vitest';
import { bisectGranule, type ProbedBlock } from './granule-bisector.ts';

/** Blocks of pseudo-random sizes and durations laid end to end. */
function layout(count: number): ProbedBlock[] {
  const blocks: ProbedBlock[] = [];
  let offset = 200;
  let granule = 0n;
  for (let i = 0; i < count; i++) {
    const size = 100 + ((i * 7919) % 900);
    granule += BigInt(960 * (1 + ((i * 31) % 5)));
    blocks.push({ seq: i + 2, offset, size, granule });
    offset += size;
  }
  return blocks;
}

describe('bisectGranule', () => {
  const blocks = layout(500);
  const end = (blocks.at(-1) as ProbedBlock).offset + (blocks.at(-1) as ProbedBlock).size;
  const probe = async (at: number) => blocks.find((b) => b.offset >= at) ?? null;

  it('finds a block starting at or before the wanted granule, close to the latest, in O(log n) probes', async () => {
    for (let want = 0n; want < (blocks.at(-1) as ProbedBlock).granule; want += 7_777n) {
      const r = await bisectGranule({
        probe,
        first: blocks[0] as ProbedBlock,
        endOffset: end,
        wantGranule: want,
      });
      const startGranule = (seq: number) =>
        seq === 2 ? 0n : (blocks[seq - 3] as ProbedBlock).granule;
      expect(startGranule(r.seq)).toBeLessThanOrEqual(want);
      // close to the latest such block: at most a few blocks (4 × the largest) before it
      const latest = blocks.filter((b) => b.granule <= want).length + 2;
      expect(latest - r.seq).toBeLessThanOrEqual(4 * 5);
      const exact = await bisectGranule({
        probe,
        first: blocks[0] as ProbedBlock,
        endOffset: end,
        wantGranule: want,
        closeEnoughBytes: 0,
      });
      expect(exact.seq).toBe(latest);
      expect(r.offset).toBe((blocks[r.seq - 2] as ProbedBlock | undefined)?.offset ?? end);
      expect(r.probes).toBeLessThanOrEqual(Math.ceil(Math.log2(end)) + 1);
    }
  });

  it('starts at block 2 when the target is inside it', async () => {
    const r = await bisectGranule({
      probe,
      first: blocks[0] as ProbedBlock,
      endOffset: end,
      wantGranule: 10n,
    });
    expect(r).toEqual({ seq: 2, offset: 200, probes: 0 });
  });
});
