import type { Schemas } from './api'

export type Pte = Schemas['Pte']

/** A PTE in words: what it maps and its bits, never colour alone. */
export function pteText (p: Pte | undefined): string {
  if (p === undefined) return '—'
  if (p.kind === 'none') return 'none (0)'
  const bits: string[] = []
  if (p.present === true) bits.push('P')
  if (p.writable === true) bits.push('RW'); else if (p.present === true) bits.push('RO')
  if (p.user === true) bits.push('U')
  if (p.accessed === true) bits.push('A')
  if (p.dirty === true) bits.push('D')
  if (p.noExec === true) bits.push('NX')
  const what = p.pfn !== undefined ? `PFN ${p.pfn}` : p.swapOffset !== undefined ? `${p.kind} offset ${p.swapOffset}` : p.kind
  return `${what} [${bits.join(' ')}]`
}

export const plural = (n: number, one: string, many = one + 's'): string => `${n} ${n === 1 ? one : many}`

/** Pages as a size a reader can picture. */
export function sizeOf (pages: number): string {
  const bytes = pages * 4096
  if (bytes >= 2 ** 40) return `${(bytes / 2 ** 40).toFixed(1)} TiB`
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(1)} GiB`
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`
  return `${bytes / 1024} KiB`
}
