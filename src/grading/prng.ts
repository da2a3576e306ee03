/**
 * The seeded PRNG of exercises (and of the random tests): mulberry32, Tommy Ettinger's public-domain
 * 32-bit generator. A seed is a contract: the same seed gives the same exercise on every machine and
 * every Node version, so this stream must never change. Draws use only 32-bit integer arithmetic and
 * one exact division by 2^32, both identical everywhere.
 */
export function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Convenience draws on top of mulberry32. */
export class Rng {
  private readonly next: () => number
  constructor (readonly seed: number) { this.next = mulberry32(seed) }

  /** A float in [0, 1). */
  float (): number { return this.next() }
  /** An integer in [lo, hi] (inclusive). */
  int (lo: number, hi: number): number { return lo + Math.floor(this.next() * (hi - lo + 1)) }
  /** True with probability p. */
  chance (p: number): boolean { return this.next() < p }
  /** A uniformly chosen element (the array must not be empty). */
  pick<T> (items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick: empty array')
    return items[Math.floor(this.next() * items.length)]
  }

  /** The items in a random order (Fisher-Yates). */
  shuffle<T> (items: readonly T[]): T[] {
    const out = [...items]
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1))
      const x = out[i]; out[i] = out[j]; out[j] = x
    }
    return out
  }

  /** A key chosen with probability proportional to its weight. */
  weighted<K extends string> (weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as Array<[K, number]>
    let total = 0
    for (const [, w] of entries) total += w
    let r = this.next() * total
    for (const [k, w] of entries) {
      if (r < w) return k
      r -= w
    }
    return entries[entries.length - 1][0]
  }
}
