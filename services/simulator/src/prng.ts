/**
 * Deterministic randomness. Two tools, no Math.random anywhere:
 * - `hash32(...)`: a stateless integer hash, so a value depends only on its
 *   coordinates (seed, meter, tick, salt) and not on generation order; this is
 *   what lets the fleet and the reads be generated lazily and in any batch size.
 * - `Rng`: a small sequential PRNG (mulberry32) for topology building and picks.
 */

/** 32-bit avalanche mix (lowbias32 by Chris Wellons). */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Stateless hash of up to four integers to an unsigned 32-bit integer. */
export function hash32(a: number, b = 0, c = 0, d = 0): number {
  let h = mix32(a ^ 0x9e3779b9);
  h = mix32(h ^ (b | 0));
  h = mix32(h ^ (c | 0) ^ 0x85ebca6b);
  return mix32(h ^ (d | 0) ^ 0xc2b2ae35);
}

/** Stateless uniform in [0, 1). */
export function unit(a: number, b = 0, c = 0, d = 0): number {
  return hash32(a, b, c, d) / 4294967296;
}

/** Stateless approximately normal N(0,1) (sum of two uniforms, Irwin-Hall, scaled). */
export function gauss(a: number, b = 0, c = 0, d = 0): number {
  const h = hash32(a, b, c, d);
  const u1 = (h & 0xffff) / 65536;
  const u2 = (h >>> 16) / 65536;
  return (u1 + u2 - 1) * 2.449; // variance of (u1+u2-1) is 1/6
}

/** Seed from a string or number (FNV-1a for strings). */
export function seedOf(seed: string | number): number {
  if (typeof seed === 'number') return seed >>> 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = mix32(seed ^ 0x6d2b79f5) || 1;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [min, max] inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  /** Index drawn from cumulative-free weights. */
  weighted(weights: readonly number[]): number {
    return pickWeighted(weights, this.next());
  }
  /** A deterministic sample of k distinct items (partial Fisher-Yates on a copy). */
  sample<T>(items: readonly T[], k: number): T[] {
    const a = items.slice();
    const n = Math.min(k, a.length);
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(this.next() * (a.length - i));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a.slice(0, n);
  }
}

/** Index i such that u falls in the i-th share of `weights` (u in [0,1)). */
export function pickWeighted(weights: readonly number[], u: number): number {
  let total = 0;
  for (const w of weights) total += w;
  let x = u * total;
  for (let i = 0; i < weights.length; i++) {
    x -= weights[i]!;
    if (x < 0) return i;
  }
  return weights.length - 1;
}
