import type { z } from 'zod'
import type { CompareBody } from '../../schemas/compare.js'
import { hex, type Simulator } from '../sim/index.js'

/**
 * Field-by-field comparison of a grader's expected answer with the session's state: a frame (its
 * counters and the mapping set of its rmap walk), a page-table entry, or a process's VMAs.
 */
export interface FieldDiff { field: string, expected: unknown, actual: unknown, ok: boolean }
export interface CompareResult { match: boolean, mismatches: number, diffs: FieldDiff[] }

/** A grader's expected answer, as POST /compare takes it. */
export type Expectation = z.output<typeof CompareBody>

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

/** One value against another (arrays as sets of scalars: order does not matter). */
export function diffValue (field: string, expected: unknown, actual: unknown): FieldDiff {
  const a = Array.isArray(expected) && Array.isArray(actual) ? [...actual].sort() : actual
  const w = Array.isArray(expected) ? [...expected].sort() : expected
  return { field, expected, actual: actual ?? null, ok: same(w, a) }
}

/** Set membership, element by element: each expected one present or missing, each extra one unexpected. */
export function diffMembers (label: string, expected: readonly string[], actual: readonly string[], present = 'mapped'): FieldDiff[] {
  const out: FieldDiff[] = []
  for (const m of expected) out.push({ field: `${label}[${m}]`, expected: present, actual: actual.includes(m) ? present : 'missing', ok: actual.includes(m) })
  for (const m of actual) if (!expected.includes(m)) out.push({ field: `${label}[${m}]`, expected: 'absent', actual: present, ok: false })
  return out
}

function fields (prefix: string, expect: Record<string, unknown>, actual: Record<string, unknown>, out: FieldDiff[]): void {
  for (const [key, want] of Object.entries(expect)) {
    const got = actual[key]
    if (want !== null && typeof want === 'object' && !Array.isArray(want) && got !== null && typeof got === 'object' && !Array.isArray(got)) {
      fields(`${prefix}${key}.`, want as Record<string, unknown>, got as Record<string, unknown>, out)
      continue
    }
    // VMA bounds are compared as numbers and shown in hex, like every address the API prints.
    const isAddr = (key === 'start' || key === 'end') && typeof got === 'number'
    const d = diffValue(`${prefix}${key}`, want, got)
    out.push(isAddr ? { ...d, expected: typeof want === 'number' ? hex(want) : want, actual: hex(got) } : d)
  }
}

export function compare (sim: Simulator, e: Expectation): CompareResult {
  const diffs: FieldDiff[] = []
  if (e.target === 'frame') {
    const { mappings, ...rest } = e.expect
    fields('', rest, sim.frame(e.pfn) as unknown as Record<string, unknown>, diffs)
    if (mappings !== undefined) {
      const actual = sim.rmap(e.pfn).mappings.map((m) => `${m.pid}@${hex(m.addr)}`)
      const expected = mappings.map((m) => `${m.pid}@${hex(m.addr)}`)
      diffs.push(...diffMembers('mappings', expected, actual))
    }
  } else if (e.target === 'pte') {
    const t = sim.translate(e.pid, e.addr)
    const last = t.levels[t.levels.length - 1]
    const pte = last.level === 'pte' && last.pte !== undefined ? last.pte : { kind: 'none', raw: '0x0' }
    fields('pte.', e.expect, pte as unknown as Record<string, unknown>, diffs)
  } else {
    const p = sim.processInfo(e.pid)
    if (e.expect.rss !== undefined) fields('rss.', e.expect.rss, p.rss, diffs)
    if (e.expect.vmas !== undefined) {
      const byStart = new Map(p.vmaList.map((v) => [v.start, v]))
      for (const want of e.expect.vmas) {
        const v = byStart.get(want.start)
        const label = `vmas[${hex(want.start)}]`
        if (v === undefined) { diffs.push({ field: label, expected: 'present', actual: 'missing', ok: false }); continue }
        fields(`${label}.`, want, v as unknown as Record<string, unknown>, diffs)
      }
      const starts = new Set(e.expect.vmas.map((v) => v.start))
      for (const v of p.vmaList) if (!starts.has(v.start)) diffs.push({ field: `vmas[${hex(v.start)}]`, expected: 'absent', actual: 'present', ok: false })
    }
  }
  const mismatches = diffs.filter((d) => !d.ok).length
  return { match: mismatches === 0, mismatches, diffs }
}
