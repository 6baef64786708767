/**
 * A latency histogram with logarithmic buckets 1 % wide, from 1 µs to about 100 s: constant
 * memory and cost per sample however many deliveries a run makes, and mergeable across runs.
 */
const RESOLUTION = 100; // buckets per e-fold
const BUCKETS = 1900; // expm1(19) µs ≈ 178 s

export class Histogram {
  readonly counts: Float64Array;
  count = 0;
  max = 0;

  constructor(counts?: ArrayLike<number>) {
    this.counts = new Float64Array(BUCKETS);
    if (counts) {
      for (let i = 0; i < BUCKETS && i < counts.length; i++) {
        this.counts[i] = counts[i];
        this.count += counts[i];
      }
    }
  }

  /** Records one value in microseconds. */
  record(us: number): void {
    const index = us <= 0 ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log1p(us) * RESOLUTION));
    this.counts[index] += 1;
    this.count += 1;
    if (us > this.max) this.max = us;
  }

  merge(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i];
    this.count += other.count;
    this.max = Math.max(this.max, other.max);
  }

  /** The value below which `p` (0–1) of the samples fall, in microseconds; NaN when empty. */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(p * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(this.max, Math.expm1((i + 0.5) / RESOLUTION));
    }
    return this.max;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.max = 0;
  }
}
