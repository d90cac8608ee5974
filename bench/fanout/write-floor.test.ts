/** The write() floor (write-floor.c): 50 loopback listeners for 2 s, every block timed. */
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { FANOUT_PRESETS } from './fanout-presets.ts';
import {
  asScenarioResult,
  buildWriteFloor,
  runWriteFloor,
  type WriteFloorBinary,
} from './write-floor.ts';

function hasGcc(): boolean {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const gcc = hasGcc();
let built: WriteFloorBinary | null = null;
afterAll(async () => {
  await built?.dispose();
});

describe.skipIf(!gcc)(
  'write() floor (needs gcc: skipped when gcc is not installed, as write-floor.c cannot be built)',
  () => {
    it('delivers every voice block to 50 listeners with a plausible delay', async () => {
      const b = await buildWriteFloor();
      if ('missing' in b) throw new Error(b.missing);
      built = b;
      const preset = FANOUT_PRESETS.voice;
      const f = await runWriteFloor(b.binary, preset, {
        listeners: 50,
        holdMs: 2000,
        graceMs: 1000,
      });
      // 2 s at one block every 240 ms: 8 passes of 50 writes.
      expect(f.writer.passes).toBe(Math.floor(2000 / preset.blockIntervalMs));
      expect(f.writer.writes).toBe(f.writer.passes * 50);
      expect(f.writer.failures).toBe(0);
      expect(f.lostBlocks).toBe(0);
      expect(f.reader.seqGaps).toBe(0);
      expect(f.reader.stillOpen).toBe(0);
      expect(f.reader.samples).toBe(f.writer.writes);
      for (const ms of [f.reader.p50Ms, f.reader.p99Ms, f.reader.maxMs]) {
        expect(ms).toBeGreaterThan(0);
        expect(ms).toBeLessThan(1000);
      }
      expect(f.reader.p50Ms).toBeLessThanOrEqual(f.reader.p99Ms);
      expect(f.writer.cpuUsPerWrite).toBeGreaterThan(0);
      expect(f.writer.passP50Ms).toBeGreaterThan(0);
      expect(f.writer.passP50Ms).toBeLessThanOrEqual(f.writer.passP99Ms);
      const row = asScenarioResult(f, 2000);
      expect(row).toMatchObject({ held: 50, dropped: 0, lostBlocks: 0, p99: f.reader.p99Ms });
    }, 30_000);
  },
);

describe('buildWriteFloor', () => {
  it('says how to install gcc when it is not on PATH', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      expect(await buildWriteFloor()).toEqual({
        missing: expect.stringContaining('install -y gcc'),
      });
    } finally {
      process.env.PATH = path;
    }
  });
});
