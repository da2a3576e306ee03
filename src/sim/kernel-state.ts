import { AddressSpace, type SpaceKind } from './address-space.js'
import { AnonVma } from './anon-vma.js'
import { EventBus, type Cause, type EventType, type VmaRef } from './events.js'
import { FrameTable, PG, ZERO_PFN, anonMapping, mappingId, mappingIsAnon } from './frames.js'
import type { KernelModel } from './models/kernel-model.js'
import { Mm } from './mm.js'
import type { PteTable } from './page-table.js'
import { SwapSpace } from './swap.js'
import { Vma } from './vma.js'

export interface SimLimits {
  maxFrames: number
  maxProcesses: number
  maxVmasPerProcess: number
  maxFiles: number
  maxFilePages: number
  maxSwapSlots: number
}

export const DEFAULT_LIMITS: SimLimits = {
  maxFrames: 1 << 22,
  maxProcesses: 4096,
  maxVmasPerProcess: 65530, // sysctl vm.max_map_count default
  maxFiles: 1024,
  maxFilePages: 1 << 20,
  maxSwapSlots: 1 << 20
}

export type FrameKind = 'free' | 'zero' | 'pagetable' | 'anon' | 'file' | 'shmem' | 'swapcache'

const NO_CAUSE: Cause = { op: 'none' }

/**
 * The simulated machine's state and the low-level helpers every mm/ file uses: frames with their
 * reference counts, PTE updates (with events), the registries of processes, files and anon_vmas.
 */
export class KernelState {
  readonly model: KernelModel
  readonly limits: SimLimits
  readonly frames: FrameTable
  readonly swap: SwapSpace
  readonly events = new EventBus()
  readonly processes = new Map<number, Mm>()
  /** Named files; shmem objects are reachable only through their VMAs and `spaces`. */
  readonly files = new Map<string, AddressSpace>()
  readonly spaces = new Map<number, AddressSpace>()
  readonly anonVmas = new Map<number, AnonVma>()
  nextPid = 1
  nextVmaId = 1
  nextAnonVmaId = 1
  nextSpaceId = 1
  nextFileId = 1
  cause: Cause = NO_CAUSE

  readonly tables = {
    allocTable: (): number => {
      const pfn = this.allocFrame()
      this.frames.flags[pfn - this.frameBase] = PG.table
      return pfn
    },
    freeTable: (pfn: number): void => { this.freeFrame(pfn) }
  }

  private readonly frameBase: number

  constructor (model: KernelModel, limits: SimLimits) {
    this.model = model
    this.limits = limits
    this.frames = new FrameTable(limits.maxFrames)
    this.frames.flags[0] = model.zeroPageFlags
    this.frameBase = ZERO_PFN
    this.swap = new SwapSpace(limits.maxSwapSlots)
  }

  // ---------------------------------------------------------------- frames

  allocFrame (): number {
    const pfn = this.frames.alloc()
    if (this.events.active) this.events.emit({ type: 'frame.allocated', cause: this.cause, pfn })
    return pfn
  }

  freeFrame (pfn: number): void {
    // The kind is only needed for the event; nobody listening, no work on this hot path.
    const kind = this.events.active ? this.frameKind(pfn) : undefined
    const s = pfn - this.frameBase
    const m = this.frames.mapping[s]
    if (m !== 0 && mappingIsAnon(m)) {
      const av = this.anonVmas.get(mappingId(m))
      if (av !== undefined) av.pages--
    }
    this.frames.free(pfn)
    if (this.events.active) this.events.emit({ type: 'frame.freed', cause: this.cause, pfn, kind })
  }

  frameKind (pfn: number): FrameKind {
    if (pfn === ZERO_PFN) return 'zero'
    const s = pfn - this.frameBase
    const f = this.frames.flags[s]
    if (f & PG.table) return 'pagetable'
    if (this.frames.refcount[s] === 0) return 'free'
    const m = this.frames.mapping[s]
    if (m === 0) return f & PG.swapcache ? 'swapcache' : 'free'
    if (mappingIsAnon(m)) return 'anon'
    return this.spaces.get(mappingId(m))?.kind === 'shmem' ? 'shmem' : 'file'
  }

  isAnonPage (pfn: number): boolean {
    return mappingIsAnon(this.frames.mapping[pfn - this.frameBase])
  }

  refcount (pfn: number): number { return this.frames.refcount[pfn - this.frameBase] }
  mapcount (pfn: number): number { return this.frames.mapcountRaw[pfn - this.frameBase] + 1 }
  pageFlags (pfn: number): number { return this.frames.flags[pfn - this.frameBase] }
  setPageFlags (pfn: number, bits: number): void { this.frames.flags[pfn - this.frameBase] |= bits }
  clearPageFlags (pfn: number, bits: number): void { this.frames.flags[pfn - this.frameBase] &= ~bits }
  pageIndex (pfn: number): number { return this.frames.index[pfn - this.frameBase] }
  pageMapping (pfn: number): number { return this.frames.mapping[pfn - this.frameBase] }

  /** get_page(). */
  getPage (pfn: number): void { this.frames.refcount[pfn - this.frameBase]++ }

  /** put_page(): frees the frame when the last reference goes. */
  putPage (pfn: number): void {
    const s = pfn - this.frameBase
    if (--this.frames.refcount[s] === 0) this.freeFrame(pfn)
  }

  /** Sets the anonymous `mapping` and `index` of a page (__folio_set_anon / __page_set_anon_rmap). */
  setAnonMapping (pfn: number, anonVma: AnonVma, index: number): void {
    const s = pfn - this.frameBase
    const old = this.frames.mapping[s]
    if (old !== 0 && mappingIsAnon(old)) {
      const av = this.anonVmas.get(mappingId(old))
      if (av !== undefined) av.pages--
    }
    anonVma.pages++
    this.frames.mapping[s] = anonMapping(anonVma.id)
    this.frames.index[s] = index
  }

  /** page_add_*_rmap: one more PTE maps the page. */
  mapPage (pfn: number): void { this.frames.mapcountRaw[pfn - this.frameBase]++ }
  /** page_remove_rmap. */
  unmapPage (pfn: number): void { this.frames.mapcountRaw[pfn - this.frameBase]-- }

  // ---------------------------------------------------------------- PTEs

  /** set_pte_at() with its event. */
  setPte (mm: Mm, leaf: PteTable, slot: number, addr: number, value: number): void {
    const before = leaf.ptes[slot]
    leaf.ptes[slot] = value
    if (this.events.active && before !== value) {
      this.events.emitPte(before === 0 ? 'pte.set' : value === 0 ? 'pte.cleared' : 'pte.changed', this.cause, mm.pid, addr, before, value)
    }
  }

  // ---------------------------------------------------------------- objects

  newAnonVma (): AnonVma {
    const av = new AnonVma(this.nextAnonVmaId++)
    this.anonVmas.set(av.id, av)
    if (this.events.active) this.events.emit({ type: 'anon_vma.created', cause: this.cause, anonVma: av.id })
    return av
  }

  freeAnonVma (av: AnonVma): void {
    this.anonVmas.delete(av.id)
    if (this.events.active) this.events.emit({ type: 'anon_vma.freed', cause: this.cause, anonVma: av.id })
  }

  newSpace (name: string, kind: SpaceKind, pages: number): AddressSpace {
    const as = new AddressSpace(this.nextSpaceId++, name, kind, pages, this.model.newImmap())
    this.spaces.set(as.id, as)
    return as
  }

  newVma (mm: Mm, start: number, end: number, pgoff: number, flags: number, mapping: AddressSpace | null): Vma {
    return new Vma(this.nextVmaId++, mm, start, end, pgoff, flags, mapping)
  }

  vmaRef (v: Vma): VmaRef {
    return { id: v.id, start: v.start, end: v.end, pgoff: v.pgoff, flags: v.flags }
  }

  emitVma (type: EventType, vma: Vma, other?: Vma | VmaRef): void {
    if (!this.events.active) return
    const o = other instanceof Vma ? this.vmaRef(other) : other
    this.events.emit({ type, cause: this.cause, pid: vma.mm.pid, vma: this.vmaRef(vma), other: o })
  }
}
