import { PAGE_SIZE, PMD_SIZE, PUD_SIZE, PGDIR_SIZE, PTRS_PER_TABLE } from './constants.js'

/**
 * A 4-level x86-64 page table: pgd -> pud -> pmd -> pte, 512 entries a level. Upper levels are small
 * sparse nodes; the last level is a 512-slot Float64Array of PTEs (see pte.ts). Every table occupies a
 * frame of its own, as in the kernel (pte_alloc/pmd_alloc/pud_alloc take a page each).
 */
export interface PteTable { readonly pfn: number, readonly ptes: Float64Array }
export interface PmdTable { readonly pfn: number, readonly entries: Array<PteTable | undefined>, used: number }
export interface PudTable { readonly pfn: number, readonly entries: Array<PmdTable | undefined>, used: number }

/** _PAGE_TABLE: the flags of an upper-level entry pointing at the next table (present, rw, user, accessed, dirty). */
export const PAGE_TABLE_BITS = 0x67

export interface TableAllocator {
  allocTable: () => number
  freeTable: (pfn: number) => void
}

export const pgdIndex = (addr: number): number => Math.floor(addr / PGDIR_SIZE) % PTRS_PER_TABLE
export const pudIndex = (addr: number): number => Math.floor(addr / PUD_SIZE) % PTRS_PER_TABLE
export const pmdIndex = (addr: number): number => Math.floor(addr / PMD_SIZE) % PTRS_PER_TABLE
export const pteIndex = (addr: number): number => Math.floor(addr / PAGE_SIZE) % PTRS_PER_TABLE

export interface LevelEntry {
  level: 'pgd' | 'pud' | 'pmd' | 'pte'
  /** The frame holding this level's table. */
  tablePfn: number
  index: number
  /** The entry's value: next table's PFN and _PAGE_TABLE bits for upper levels, the PTE at the last. */
  value: number
}

export class PageTable {
  readonly pgdPfn: number
  readonly pgd: Array<PudTable | undefined> = new Array(PTRS_PER_TABLE)
  pgdUsed = 0
  /** Number of frames held by this table (pgd included). */
  tablePages = 1

  /** `pgdPfn` restores a table whose pgd frame already exists (snapshots). */
  constructor (private readonly alloc: TableAllocator, pgdPfn?: number) {
    this.pgdPfn = pgdPfn ?? alloc.allocTable()
  }

  /** Re-creates a table at a known frame (snapshots): level 1 = pud, 2 = pmd, 3 = pte table. */
  restoreTable (level: 1 | 2 | 3, gi: number, ui: number, mi: number, pfn: number): void {
    if (level === 1) {
      if (this.pgd[gi] !== undefined) throw new Error(`duplicate pud table at pgd[${gi}]`)
      this.pgd[gi] = { pfn, entries: new Array(PTRS_PER_TABLE), used: 0 }; this.pgdUsed++; this.tablePages++
      return
    }
    const pud = this.pgd[gi]
    if (pud === undefined) throw new Error(`no pud table at pgd[${gi}]`)
    if (level === 2) {
      if (pud.entries[ui] !== undefined) throw new Error(`duplicate pmd table at pgd[${gi}][${ui}]`)
      pud.entries[ui] = { pfn, entries: new Array(PTRS_PER_TABLE), used: 0 }; pud.used++; this.tablePages++
      return
    }
    const pmd = pud.entries[ui]
    if (pmd === undefined) throw new Error(`no pmd table at pgd[${gi}][${ui}]`)
    if (pmd.entries[mi] !== undefined) throw new Error(`duplicate pte table at pgd[${gi}][${ui}][${mi}]`)
    pmd.entries[mi] = { pfn, ptes: new Float64Array(PTRS_PER_TABLE) }; pmd.used++; this.tablePages++
  }

  /** Every table below the pgd as [level, gi, ui, mi, pfn], in address order (snapshots). */
  tableList (): Array<[1 | 2 | 3, number, number, number, number]> {
    const out: Array<[1 | 2 | 3, number, number, number, number]> = []
    this.pgd.forEach((pud, gi) => {
      if (pud === undefined) return
      out.push([1, gi, 0, 0, pud.pfn])
      pud.entries.forEach((pmd, ui) => {
        if (pmd === undefined) return
        out.push([2, gi, ui, 0, pmd.pfn])
        pmd.entries.forEach((leaf, mi) => { if (leaf !== undefined) out.push([3, gi, ui, mi, leaf.pfn]) })
      })
    })
    return out
  }

  /** The PTE for `addr`, or 0 when no table covers it. */
  get (addr: number): number {
    const leaf = this.leaf(addr)
    return leaf === undefined ? 0 : leaf.ptes[pteIndex(addr)]
  }

  leaf (addr: number): PteTable | undefined {
    const pud = this.pgd[pgdIndex(addr)]
    if (pud === undefined) return undefined
    const pmd = pud.entries[pudIndex(addr)]
    if (pmd === undefined) return undefined
    return pmd.entries[pmdIndex(addr)]
  }

  /** The leaf covering `addr`, allocating missing levels (__pte_alloc and friends). */
  leafAlloc (addr: number): PteTable {
    const gi = pgdIndex(addr)
    let pud = this.pgd[gi]
    if (pud === undefined) {
      pud = { pfn: this.alloc.allocTable(), entries: new Array(PTRS_PER_TABLE), used: 0 }
      this.pgd[gi] = pud; this.pgdUsed++; this.tablePages++
    }
    const ui = pudIndex(addr)
    let pmd = pud.entries[ui]
    if (pmd === undefined) {
      pmd = { pfn: this.alloc.allocTable(), entries: new Array(PTRS_PER_TABLE), used: 0 }
      pud.entries[ui] = pmd; pud.used++; this.tablePages++
    }
    const mi = pmdIndex(addr)
    let leaf = pmd.entries[mi]
    if (leaf === undefined) {
      leaf = { pfn: this.alloc.allocTable(), ptes: new Float64Array(PTRS_PER_TABLE) }
      pmd.entries[mi] = leaf; pmd.used++; this.tablePages++
    }
    return leaf
  }

  /** How many table frames `leafAlloc` would need to cover every page of [lo, hi). */
  tablesNeeded (lo: number, hi: number): number {
    let n = 0
    for (let g = Math.floor(lo / PGDIR_SIZE) * PGDIR_SIZE; g < hi; g += PGDIR_SIZE) {
      const pud = this.pgd[pgdIndex(g)]
      if (pud === undefined) n++
      for (let u = Math.max(g, Math.floor(lo / PUD_SIZE) * PUD_SIZE); u < Math.min(hi, g + PGDIR_SIZE); u += PUD_SIZE) {
        const pmd = pud?.entries[pudIndex(u)]
        if (pmd === undefined) n++
        for (let m = Math.max(u, Math.floor(lo / PMD_SIZE) * PMD_SIZE); m < Math.min(hi, u + PUD_SIZE); m += PMD_SIZE) {
          if (pmd?.entries[pmdIndex(m)] === undefined) n++
        }
      }
    }
    return n
  }

  /**
   * Calls `fn` for every existing leaf that overlaps [lo, hi) with the slot range inside it and the
   * virtual address of slot 0, in ascending address order.
   */
  forEachLeaf (lo: number, hi: number, fn: (leaf: PteTable, from: number, to: number, base: number) => void): void {
    let addr = lo
    while (addr < hi) {
      const pud = this.pgd[pgdIndex(addr)]
      if (pud === undefined) { addr = (Math.floor(addr / PGDIR_SIZE) + 1) * PGDIR_SIZE; continue }
      const pmd = pud.entries[pudIndex(addr)]
      if (pmd === undefined) { addr = (Math.floor(addr / PUD_SIZE) + 1) * PUD_SIZE; continue }
      const base = Math.floor(addr / PMD_SIZE) * PMD_SIZE
      const next = base + PMD_SIZE
      const leaf = pmd.entries[pmdIndex(addr)]
      if (leaf !== undefined) {
        const from = (addr - base) / PAGE_SIZE
        const to = (Math.min(hi, next) - base) / PAGE_SIZE
        fn(leaf, from, to, base)
      }
      addr = next
    }
  }

  /** The entries a hardware walk reads for `addr`, down to the first missing level. */
  walk (addr: number): LevelEntry[] {
    const out: LevelEntry[] = []
    const gi = pgdIndex(addr)
    const pud = this.pgd[gi]
    out.push({ level: 'pgd', tablePfn: this.pgdPfn, index: gi, value: pud === undefined ? 0 : pud.pfn * PAGE_SIZE + PAGE_TABLE_BITS })
    if (pud === undefined) return out
    const ui = pudIndex(addr)
    const pmd = pud.entries[ui]
    out.push({ level: 'pud', tablePfn: pud.pfn, index: ui, value: pmd === undefined ? 0 : pmd.pfn * PAGE_SIZE + PAGE_TABLE_BITS })
    if (pmd === undefined) return out
    const mi = pmdIndex(addr)
    const leaf = pmd.entries[mi]
    out.push({ level: 'pmd', tablePfn: pmd.pfn, index: mi, value: leaf === undefined ? 0 : leaf.pfn * PAGE_SIZE + PAGE_TABLE_BITS })
    if (leaf === undefined) return out
    const ti = pteIndex(addr)
    out.push({ level: 'pte', tablePfn: leaf.pfn, index: ti, value: leaf.ptes[ti] })
    return out
  }

  /**
   * free_pgtables() for [lo, hi): frees every table whose whole span lies inside [floor, ceiling), the
   * gap left between the neighbouring VMAs (mm/memory.c free_pgd_range). Entries must already be zapped.
   */
  freeRange (lo: number, hi: number, floor: number, ceiling: number): void {
    const inside = (start: number, size: number): boolean => start >= floor && start + size <= ceiling
    for (let g = Math.floor(lo / PGDIR_SIZE) * PGDIR_SIZE; g < hi; g += PGDIR_SIZE) {
      const gi = pgdIndex(g)
      const pud = this.pgd[gi]
      if (pud === undefined) continue
      for (let u = Math.max(g, Math.floor(lo / PUD_SIZE) * PUD_SIZE); u < Math.min(hi, g + PGDIR_SIZE); u += PUD_SIZE) {
        const ui = pudIndex(u)
        const pmd = pud.entries[ui]
        if (pmd === undefined) continue
        for (let m = Math.max(u, Math.floor(lo / PMD_SIZE) * PMD_SIZE); m < Math.min(hi, u + PUD_SIZE); m += PMD_SIZE) {
          const mi = pmdIndex(m)
          const leaf = pmd.entries[mi]
          if (leaf !== undefined && inside(m, PMD_SIZE)) {
            pmd.entries[mi] = undefined; pmd.used--; this.tablePages--
            this.alloc.freeTable(leaf.pfn)
          }
        }
        if (pmd.used === 0 && inside(u, PUD_SIZE)) {
          pud.entries[ui] = undefined; pud.used--; this.tablePages--
          this.alloc.freeTable(pmd.pfn)
        }
      }
      if (pud.used === 0 && inside(g, PGDIR_SIZE)) {
        this.pgd[gi] = undefined; this.pgdUsed--; this.tablePages--
        this.alloc.freeTable(pud.pfn)
      }
    }
  }

  /** Frees every table, the pgd included (exit_mmap after the last VMA is gone). */
  destroy (): void {
    this.freeRange(0, PGDIR_SIZE * PTRS_PER_TABLE, 0, PGDIR_SIZE * PTRS_PER_TABLE)
    this.alloc.freeTable(this.pgdPfn)
    this.tablePages = 0
  }

  /** Every table frame, pgd first, in address order. */
  tablePfns (): number[] {
    const out = [this.pgdPfn]
    for (const pud of this.pgd) {
      if (pud === undefined) continue
      out.push(pud.pfn)
      for (const pmd of pud.entries) {
        if (pmd === undefined) continue
        out.push(pmd.pfn)
        for (const leaf of pmd.entries) if (leaf !== undefined) out.push(leaf.pfn)
      }
    }
    return out
  }
}
