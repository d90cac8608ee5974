/**
 * Where each block starts: a growable Float64Array (8 bytes a block, no per-entry object),
 * so a day of `low-latency` blocks (4.3 M) costs 35 MB only while it is asked for.
 *
 * A finished media's offsets are persisted as runs of equal block sizes (`toRuns`): a CBR stream
 * (docs/architecture.md "Hard CBR Opus") is a handful of runs whatever its length, so reloading a
 * day-long media rebuilds its index by arithmetic instead of re-reading the file.
 */
import { MAGIC_SIZE } from '@mxcast/format';

/** `[blockBytes, count]`: `count` consecutive blocks of `blockBytes` bytes (header + ciphertext). */
export type BlockRun = [number, number];

/** Past this many runs the index is not worth persisting (a stream of varying block sizes). */
export const MAX_PERSISTED_RUNS = 4096;

export class OffsetList {
  private data = new Float64Array(1024);
  private n = 0;

  get length(): number {
    return this.n;
  }

  push(offset: number): void {
    if (this.n === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.n++] = offset;
  }

  /** Start of block `seq`, or undefined past the end. */
  at(seq: number): number | undefined {
    return seq >= 0 && seq < this.n ? this.data[seq] : undefined;
  }

  /** A copy as a plain array (the contract's blockOffsets answer). */
  toArray(): number[] {
    return Array.from(this.data.subarray(0, this.n));
  }

  /** The block sizes as runs, given where the last block ends; null past MAX_PERSISTED_RUNS. */
  toRuns(end: number): BlockRun[] | null {
    const runs: BlockRun[] = [];
    for (let i = 0; i < this.n; i++) {
      const size = (i + 1 < this.n ? (this.data[i + 1] as number) : end) - (this.data[i] as number);
      const last = runs[runs.length - 1];
      if (last && last[0] === size) last[1]++;
      else if (runs.push([size, 1]) > MAX_PERSISTED_RUNS) return null;
    }
    return runs;
  }

  /**
   * Rebuilds the offsets from runs (blocks start right after the magic). Null unless the runs are
   * well formed and end exactly at `end`, so a stale or mangled record is never trusted.
   */
  static fromRuns(runs: unknown, end: number): OffsetList | null {
    if (!Array.isArray(runs)) return null;
    const list = new OffsetList();
    let total = 0;
    for (const run of runs) {
      if (!Array.isArray(run) || run.length !== 2) return null;
      const [size, count] = run as unknown[];
      if (!Number.isSafeInteger(size) || !Number.isSafeInteger(count)) return null;
      if ((size as number) <= 0 || (count as number) <= 0) return null;
      total += count as number;
    }
    if (total > 0) list.data = new Float64Array(total);
    let offset = MAGIC_SIZE;
    for (const [size, count] of runs as BlockRun[]) {
      for (let i = 0; i < count; i++) {
        list.data[list.n++] = offset;
        offset += size;
      }
    }
    return offset === end || (total === 0 && end === 0) ? list : null;
  }
}
