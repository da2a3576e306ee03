import { LimitError } from './errors.js'

/**
 * struct page for every PFN, as a struct of typed arrays indexed by `pfn - PFN_BASE` (about 24 bytes a
 * frame instead of an object's ~200). Grown by doubling.
 *
 * PFN allocation is deterministic: the zero page is PFN_BASE (reserved at boot, never freed). A freed
 * frame waits in a FIFO quarantine: a new frame is the oldest freed one once more than
 * FREE_QUARANTINE frames wait (or every PFN up to `maxFrames` has been used), otherwise the lowest
 * PFN never used yet. So a frame just freed is not handed out again soon, and the arrays stay at
 * about the peak number of live frames plus the quarantine. Which frame Linux hands out after a free is not
 * deterministic (the per-CPU lists are LIFO, but other tasks, CPUs and deferred LRU batches take from
 * them too): measured against Linux 6.18 over 1,000 random scenarios, this policy matched 993 and
 * LIFO reuse 977 (test/fixtures/conformance/README.md).
 */
export const PFN_BASE = 0x1000
export const ZERO_PFN = PFN_BASE
/** Freed frames that wait before they are reused (see the allocator comment above). */
export const FREE_QUARANTINE = 1024

/** Page flag bits (names from include/linux/page-flags.h; bit numbers are the simulator's). */
export const PG = {
  locked: 1 << 0,
  referenced: 1 << 2,
  uptodate: 1 << 3,
  dirty: 1 << 4,
  lru: 1 << 5,
  /** PG_active: on the active LRU list (shown by the 2.6.11 model, which tracks page activity). */
  active: 1 << 6,
  swapcache: 1 << 10,
  reserved: 1 << 13,
  swapbacked: 1 << 17,
  /** PG_anon_exclusive (modern kernels): this process's page, not shared through fork. */
  anonExclusive: 1 << 19,
  /** PageTable(): the frame holds a page-table page. */
  table: 1 << 20,
  /** PG_mlocked: a VM_LOCKED VMA maps the page (2.6.28+; reclaim leaves it alone). */
  mlocked: 1 << 21
} as const
export type PageFlagName = keyof typeof PG
export const PAGE_FLAG_NAMES = Object.keys(PG) as PageFlagName[]

export function flagNames (flags: number): PageFlagName[] {
  return PAGE_FLAG_NAMES.filter((n) => (flags & PG[n]) !== 0)
}

/**
 * How a kernel shows struct page's flags: the flags it has, by its own bit numbers (the simulator
 * keeps one set of bits and shows each session's kernel its own).
 */
export interface PageFlagLayout {
  /** Each flag this kernel has, with its bit in page->flags; a flag missing here is not shown. */
  readonly bits: Readonly<Partial<Record<PageFlagName, number>>>
  /** How a frame view names a page-table page ('kernel' where struct page cannot tell it apart). */
  readonly tableKind: 'pagetable' | 'kernel'
}

/** The simulator's own bits (modern flag names; flagsRaw is the simulator's value). */
export const SIM_PAGE_FLAGS: PageFlagLayout = {
  bits: Object.fromEntries(PAGE_FLAG_NAMES.map((n) => [n, Math.log2(PG[n])])),
  tableKind: 'pagetable'
}

/**
 * 2.6.11 include/linux/page-flags.h: PG_locked 0, PG_referenced 2, PG_uptodate 3, PG_dirty 4, PG_lru 5,
 * PG_active 6, PG_reserved 11, PG_swapcache 16. It has no PG_swapbacked (2.6.28), PG_mlocked (2.6.28),
 * PG_anon_exclusive (5.19) or page-table page type: a page table is a page the kernel keeps for itself.
 */
export const PAGE_FLAGS_2611: PageFlagLayout = {
  bits: { locked: 0, referenced: 2, uptodate: 3, dirty: 4, lru: 5, active: 6, reserved: 11, swapcache: 16 },
  tableKind: 'kernel'
}

/** The names and the raw value of `flags` as `layout`'s kernel shows them. */
export function flagsIn (layout: PageFlagLayout, flags: number): { names: PageFlagName[], raw: number } {
  const names: PageFlagName[] = []
  let raw = 0
  for (const n of PAGE_FLAG_NAMES) {
    const bit = layout.bits[n]
    if (bit === undefined || (flags & PG[n]) === 0) continue
    names.push(n)
    raw += 2 ** bit
  }
  return { names, raw }
}

/**
 * `mapping` is held as a tagged object id, mirroring the kernel's tagged pointer: 0 is NULL; bit 0 set
 * (PAGE_MAPPING_ANON) means `id >> 1` is an anon_vma; bit 0 clear means `id >> 1` is an address_space.
 */
export const PAGE_MAPPING_ANON = 1
export const anonMapping = (anonVmaId: number): number => anonVmaId * 2 + PAGE_MAPPING_ANON
export const fileMapping = (spaceId: number): number => spaceId * 2
export const mappingIsAnon = (m: number): boolean => (m & PAGE_MAPPING_ANON) !== 0
export const mappingId = (m: number): number => m >>> 1

export class FrameTable {
  flags: Uint32Array
  /** References held (page_count()); the 2.6.11 model prints it with its -1 bias. */
  refcount: Int32Array
  /** The raw `_mapcount`: -1 when no PTE maps the frame. */
  mapcountRaw: Int32Array
  mapping: Int32Array
  index: Float64Array
  private nextSlot = 1
  /** Freed slots, oldest first, from `freeHead` on. */
  private freeList: number[] = []
  private freeHead = 0
  private live = 0
  readonly maxFrames: number

  constructor (maxFrames: number, initialCapacity = 16) {
    this.maxFrames = maxFrames
    const cap = Math.max(2, initialCapacity)
    this.flags = new Uint32Array(cap)
    this.refcount = new Int32Array(cap)
    this.mapcountRaw = new Int32Array(cap).fill(-1)
    this.mapping = new Int32Array(cap)
    this.index = new Float64Array(cap)
    this.flags[0] = PG.reserved | PG.uptodate
  }

  /** Frames in use, the zero page not counted. */
  get inUse (): number { return this.live }
  get available (): number { return this.maxFrames - this.live }
  /** One past the highest PFN ever handed out. */
  get pfnLimit (): number { return PFN_BASE + this.nextSlot }

  slot (pfn: number): number { return pfn - PFN_BASE }

  isValidPfn (pfn: number): boolean {
    return Number.isInteger(pfn) && pfn >= PFN_BASE && pfn < PFN_BASE + this.nextSlot
  }

  isFree (pfn: number): boolean {
    const s = pfn - PFN_BASE
    return s !== 0 && this.refcount[s] === 0 && this.flags[s] === 0
  }

  /** Throws unless `n` more frames can be allocated: operations check this before changing anything. */
  ensureAvailable (n: number, what: string): void {
    if (n > this.available) {
      throw new LimitError(`${what} needs ${n} free frames, but only ${this.available} of the session's ${this.maxFrames} are free`, { needed: n, available: this.available, maxFrames: this.maxFrames })
    }
  }

  alloc (): number {
    if (this.live >= this.maxFrames) this.ensureAvailable(1, 'allocating a frame')
    let s: number
    if (this.nextSlot <= this.maxFrames && this.freeList.length - this.freeHead <= FREE_QUARANTINE) {
      s = this.nextSlot++
      if (s >= this.flags.length) this.grow()
    } else {
      s = this.freeList[this.freeHead++]
      if (this.freeHead > 1024 && this.freeHead * 2 > this.freeList.length) {
        this.freeList = this.freeList.slice(this.freeHead)
        this.freeHead = 0
      }
    }
    this.live++
    this.refcount[s] = 1
    this.mapcountRaw[s] = -1
    this.mapping[s] = 0
    this.index[s] = 0
    this.flags[s] = 0
    return PFN_BASE + s
  }

  free (pfn: number): void {
    const s = pfn - PFN_BASE
    this.flags[s] = 0
    this.refcount[s] = 0
    this.mapcountRaw[s] = -1
    this.mapping[s] = 0
    this.index[s] = 0
    this.freeList.push(s)
    this.live--
  }

  /** Free PFNs in the order the allocator will hand them out (for snapshots and determinism checks). */
  freeListSnapshot (): number[] { return this.freeList.slice(this.freeHead).map((s) => s + PFN_BASE) }

  /** Restores allocator state from a snapshot (see snapshot.ts); the arrays must be filled separately. */
  restoreAllocator (nextPfn: number, freePfns: number[], live: number): void {
    this.nextSlot = nextPfn - PFN_BASE
    if (this.flags.length < this.nextSlot + 1) this.grow(this.nextSlot + 1)
    this.freeList = freePfns.map((p) => p - PFN_BASE)
    this.freeHead = 0
    this.live = live
  }

  heapBytes (): number {
    return this.flags.byteLength + this.refcount.byteLength + this.mapcountRaw.byteLength +
      this.mapping.byteLength + this.index.byteLength + (this.freeList.length - this.freeHead) * 8
  }

  private grow (atLeast = 0): void {
    let cap = this.flags.length * 2
    while (cap < atLeast) cap *= 2
    const f = new Uint32Array(cap); f.set(this.flags); this.flags = f
    const r = new Int32Array(cap); r.set(this.refcount); this.refcount = r
    const m = new Int32Array(cap).fill(-1); m.set(this.mapcountRaw); this.mapcountRaw = m
    const p = new Int32Array(cap); p.set(this.mapping); this.mapping = p
    const i = new Float64Array(cap); i.set(this.index); this.index = i
  }
}
