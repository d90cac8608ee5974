/**
 * A fixed-bucket latency histogram: 10000 listeners × 50 blocks/s make millions of delay
 * samples a run, too many to keep and sort. Buckets are 0.1 ms wide up to 10 s (then one
 * overflow bucket); the exact maximum is kept apart. Mergeable across listener threads.
 */
const BUCKET_MS = 0.1;
const BUCKETS = 100_000;

export interface DelaySummary {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

export class DelayHistogram {
  readonly counts = new Float64Array(BUCKETS + 1);
  samples = 0;
  max = 0;

  add(ms: number): void {
    const v = ms < 0 ? 0 : ms;
    const i = Math.min(BUCKETS, Math.floor(v / BUCKET_MS));
    this.counts[i] = (this.counts[i] as number) + 1;
    this.samples++;
    if (v > this.max) this.max = v;
  }

  merge(other: DelayHistogram): void {
    for (let i = 0; i <= BUCKETS; i++) {
      this.counts[i] = (this.counts[i] as number) + (other.counts[i] as number);
    }
    this.samples += other.samples;
    this.max = Math.max(this.max, other.max);
  }

  /** Nearest-rank percentile, as the upper edge of its bucket (never under-reports). */
  percentile(p: number): number {
    if (this.samples === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.samples));
    let seen = 0;
    for (let i = 0; i <= BUCKETS; i++) {
      seen += this.counts[i] as number;
      if (seen >= rank) return i === BUCKETS ? this.max : Math.min(this.max, (i + 1) * BUCKET_MS);
    }
    return this.max;
  }

  summary(): DelaySummary {
    return {
      samples: this.samples,
      p50: this.percentile(50),
      p99: this.percentile(99),
      max: this.max,
    };
  }
}
