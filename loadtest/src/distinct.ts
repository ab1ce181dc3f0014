/**
 * Counts distinct (meter_id, read_at) of a replayed stream without holding
 * 100 million strings: interval reads of meter `M########` go to a bitset of
 * (meter index, interval bucket) (1.2 M meters x 100 buckets = 15 MB); any
 * other read (unknown id, on-demand, out of the range) goes to a Set.
 * A meter's clock skew is constant, so its interval reads never share a bucket.
 */
export class DistinctReads {
  private readonly bits: Uint8Array;
  private readonly buckets: number;
  private readonly firstBucket: number;
  private readonly other = new Set<string>();
  distinct = 0;
  total = 0;
  /** Checksums over distinct reads, matching ClickHouse's `sum(x % 1000003)` (see correctness.ts). */
  sumReadAt = 0;
  sumEnergy = 0;

  constructor(
    private readonly meters: number,
    startMs: number,
    endMs: number,
    private readonly intervalMs: number,
  ) {
    this.firstBucket = Math.floor(startMs / intervalMs) - 4;
    this.buckets = Math.ceil(endMs / intervalMs) + 4 - this.firstBucket;
    const size = meters > 0 && this.buckets > 0 ? Math.ceil((meters * this.buckets) / 8) : 0;
    this.bits = new Uint8Array(Math.min(size, 1 << 30));
  }

  add(meterId: string, readAt: number, kind: string, energyWh: number): void {
    this.total++;
    const idx =
      kind === 'INTERVAL' && meterId.charCodeAt(0) === 77 /* M */ ? Number(meterId.slice(1)) : Number.NaN;
    const bucket = Math.round(readAt / this.intervalMs) - this.firstBucket;
    if (Number.isInteger(idx) && idx >= 0 && idx < this.meters && bucket >= 0 && bucket < this.buckets) {
      const bit = idx * this.buckets + bucket;
      const byte = bit >>> 3;
      if (byte < this.bits.length) {
        const mask = 1 << (bit & 7);
        if ((this.bits[byte]! & mask) === 0) {
          this.bits[byte]! |= mask;
          this.count(readAt, energyWh);
        }
        return;
      }
    }
    const key = `${meterId}\u0000${readAt}`;
    if (!this.other.has(key)) {
      this.other.add(key);
      this.count(readAt, energyWh);
    }
  }

  private count(readAt: number, energyWh: number): void {
    this.distinct++;
    this.sumReadAt += Math.floor(readAt / 1000) % 1_000_003;
    this.sumEnergy += energyWh % 1_000_003;
  }
}
