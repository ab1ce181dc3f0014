/**
 * Token buckets per key (a user): `capacity` tokens, refilled continuously at
 * `perMinute` per minute. The clock is injected so the rule is unit-testable.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly capacity = perMinute,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes `cost` tokens if there are enough; else says how many ms until there will be. */
  take(key: string, cost = 1): { ok: true } | { ok: false; retryAfterMs: number } {
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.capacity, at: t };
    const rate = this.perMinute / 60_000;
    b.tokens = Math.min(this.capacity, b.tokens + (t - b.at) * rate);
    b.at = t;
    this.buckets.set(key, b);
    if (cost > this.capacity) return { ok: false, retryAfterMs: Number.POSITIVE_INFINITY };
    if (b.tokens >= cost) {
      b.tokens -= cost;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil((cost - b.tokens) / rate) };
  }
}
