/** Small statistics helpers: percentiles of raw samples, medians, formatting. */

export function sortedCopy (xs: ArrayLike<number>): Float64Array {
  const a = Float64Array.from(xs as ArrayLike<number>)
  a.sort()
  return a
}

/** Nearest-rank percentile of an already sorted array (p in 0..100). */
export function pct (sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]
}

export function median (xs: number[]): number { return pct(sortedCopy(xs), 50) }

export function mean (xs: ArrayLike<number>): number {
  let s = 0
  for (let i = 0; i < xs.length; i++) s += xs[i]
  return xs.length === 0 ? Number.NaN : s / xs.length
}

/** A growable float buffer for latencies (no per-sample allocation). */
export class Samples {
  private buf = new Float64Array(1024)
  length = 0
  push (v: number): void {
    if (this.length === this.buf.length) {
      const b = new Float64Array(this.buf.length * 2)
      b.set(this.buf)
      this.buf = b
    }
    this.buf[this.length++] = v
  }

  summary (): LatencySummary {
    const s = this.buf.slice(0, this.length).sort()
    return { count: this.length, mean: mean(s), p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), p999: pct(s, 99.9), max: s.length > 0 ? s[s.length - 1] : Number.NaN }
  }
}

export interface LatencySummary { count: number, mean: number, p50: number, p90: number, p99: number, p999: number, max: number }

export const MiB = 1024 * 1024

export function fmtNum (n: number | undefined | null, digits = 0): string {
  if (n === undefined || n === null || !Number.isFinite(n)) return 'n/a'
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
}

export function fmtMs (n: number | undefined | null): string {
  if (n === undefined || n === null || !Number.isFinite(n)) return 'n/a'
  if (n < 1) return `${n.toFixed(3)} ms`
  if (n < 10) return `${n.toFixed(2)} ms`
  return `${n.toFixed(1)} ms`
}

export function fmtMiB (bytes: number | undefined | null, digits = 1): string {
  if (bytes === undefined || bytes === null || !Number.isFinite(bytes)) return 'n/a'
  return `${(bytes / MiB).toFixed(digits)} MiB`
}

export function fmtPct (ratio: number | undefined | null): string {
  if (ratio === undefined || ratio === null || !Number.isFinite(ratio)) return 'n/a'
  return `${(ratio * 100).toFixed(1)}%`
}
