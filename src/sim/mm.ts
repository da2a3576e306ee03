import { PageTable, type TableAllocator } from './page-table.js'
import type { Vma } from './vma.js'

/**
 * A process and its mm_struct. VMAs are kept in a sorted array searched by binary search: enough for
 * the hundreds of VMAs a session may hold (the kernel's maple tree answers the same queries).
 */
export class Mm {
  readonly pid: number
  readonly parentPid: number | null
  readonly name: string | null
  readonly vmas: Vma[] = []
  readonly pgtable: PageTable
  /** RSS counters (MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES, MM_SWAPENTS). */
  rss = { anon: 0, file: 0, shmem: 0, swap: 0 }
  /** mm->free_area_cache of the 2.6.11 bottom-up search (unused by the modern layout). */
  freeAreaCache = 0

  constructor (pid: number, parentPid: number | null, name: string | null, tables: TableAllocator, pgdPfn?: number) {
    this.pid = pid
    this.parentPid = parentPid
    this.name = name
    this.pgtable = new PageTable(tables, pgdPfn)
  }

  /** Index of the first VMA whose end is above addr (the kernel's find_vma). */
  private lowerBound (addr: number): number {
    let lo = 0; let hi = this.vmas.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.vmas[mid].end <= addr) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** find_vma(): the first VMA with vm_end > addr, which may start above addr. */
  findVma (addr: number): Vma | undefined { return this.vmas[this.lowerBound(addr)] }

  /** vma_lookup(): the VMA containing addr. */
  vmaAt (addr: number): Vma | undefined {
    const v = this.vmas[this.lowerBound(addr)]
    return v !== undefined && v.start <= addr ? v : undefined
  }

  /** VMAs overlapping [lo, hi), in address order. */
  vmasIn (lo: number, hi: number): Vma[] {
    const out: Vma[] = []
    for (let i = this.lowerBound(lo); i < this.vmas.length && this.vmas[i].start < hi; i++) out.push(this.vmas[i])
    return out
  }

  prev (vma: Vma): Vma | undefined { return this.vmas[this.vmas.indexOf(vma) - 1] }
  next (vma: Vma): Vma | undefined {
    const i = this.vmas.indexOf(vma)
    return i < 0 ? undefined : this.vmas[i + 1]
  }

  insertVma (vma: Vma): void {
    this.vmas.splice(this.lowerBound(vma.start), 0, vma)
  }

  removeVma (vma: Vma): void {
    const i = this.vmas.indexOf(vma)
    if (i >= 0) this.vmas.splice(i, 1)
  }

  /** True when no VMA overlaps [lo, hi). */
  isFree (lo: number, hi: number): boolean {
    const v = this.findVma(lo)
    return v === undefined || v.start >= hi
  }
}
