/**
 * Where each block starts: a growable Float64Array (8 bytes a block, no per-entry object),
 * so a day of `low-latency` blocks (4.3 M) costs 35 MB only while it is asked for.
 */
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

  /** Index of the first block starting at or after `offset` (n if none). */
  firstAtOrAfter(offset: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.data[mid] ?? 0) < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
