import { PAGE_SIZE, hex } from './constants.js'
import type { AddressSpace } from './address-space.js'
import type { AnonVma } from './anon-vma.js'
import { UnsupportedError } from './errors.js'
import { PG, ZERO_PFN, mappingId, mappingIsAnon } from './frames.js'
import type { KernelState } from './kernel-state.js'
import type { Mm } from './mm.js'
import { pteIndex, type PteTable } from './page-table.js'
import {
  PTE_ACCESSED, PTE_DIRTY, PTE_RW, SWP_MIG_DIRTY, SWP_MIG_WRITE, SWP_MIG_YOUNG,
  SWP_TAG_MIGRATION, clearBits, makePte, makeSwapPte, pteBits, pteDirty, pteMapped, ptePfn, pteWrite, pteYoung
} from './pte.js'
import { addToSwap, deleteFromSwapCache } from './swap-cache.js'
import { VM, type Vma } from './vma.js'
import { vmPageProt } from './prot.js'
import { levelView, mappingView, type LevelView, type MappingView } from './views.js'

/** The reverse map: mm/rmap.c rmap_walk() and its users (folio_referenced, try_to_unmap, folio_mkclean, migration). */

export interface RmapMapping {
  pid: number
  vma: Vma
  addr: number
  leaf: PteTable
  slot: number
}

export type WalkOutcome = 'matched' | 'outside_vma' | 'no_page_table' | 'pte_none' | 'not_present' | 'other_pfn'

export type RmapStep =
  | { step: 'page', pfn: number, mapping: MappingView, index: number, note: string }
  | { step: 'object', kind: 'anon_vma' | 'address_space' | 'none', id?: number, name?: string, structure?: string, query?: { first: number, last: number }, vmas: number, note: string, treeNodes?: TreeNodeStep[] }
  | { step: 'vma', pid: number, vmaId: number, start: number, end: number, pgoff: number, formula: string, addr: number, levels: LevelView[], outcome: WalkOutcome, note: string }
  | { step: 'done', matched: number, note: string }

/** A node of the 2.6.11 priority tree that vma_prio_tree_foreach stepped onto: its keys, its VMAs (the node's, then its vm_set list), and whether it overlaps the index. */
export interface TreeNodeStep { radix: number, heap: number, vmaIds: number[], overlaps: boolean }

export interface WalkTarget {
  kind: 'anon' | 'file' | 'none'
  anonVma?: AnonVma
  space?: AddressSpace
  index: number
}

/** page_mapping()/folio_anon_vma(): which object the page's `mapping` points to. */
export function walkTarget (k: KernelState, pfn: number): WalkTarget {
  const m = k.pageMapping(pfn)
  const index = k.pageIndex(pfn)
  if (pfn === ZERO_PFN || m === 0 || (k.pageFlags(pfn) & PG.table) !== 0) return { kind: 'none', index }
  if (mappingIsAnon(m)) {
    const av = k.anonVmas.get(mappingId(m))
    return av === undefined ? { kind: 'none', index } : { kind: 'anon', anonVma: av, index }
  }
  const space = k.spaces.get(mappingId(m))
  return space === undefined ? { kind: 'none', index } : { kind: 'file', space, index }
}

/** The VMAs a walk visits, in the order it visits them. */
function candidateVmas (k: KernelState, t: WalkTarget): Vma[] {
  if (t.kind === 'anon' && t.anonVma !== undefined) return k.model.anonWalkVmas(t.anonVma, t.index)
  if (t.kind === 'file' && t.space !== undefined) return [...t.space.immap.query(t.index, t.index)]
  return []
}

/**
 * When a walk ends before its last VMA: `done` is asked after each VMA (rmap_walk's rwc->done, and the
 * `if (!mapcount) break` / `if (!page_mapped(page)) break` of 2.6.11's walks), with the reason to
 * show in a trace.
 */
export interface WalkStop {
  done: () => boolean
  why: string
  /** Ends the walk before this VMA is visited (2.6.11 page_referenced_file's locked shared VMAs). */
  before?: { test: (vma: Vma) => boolean, why: string }
}

/**
 * rmap_walk(): from the page's `mapping` to every VMA that may map it (rmap_walk_anon /
 * rmap_walk_file), the address in each (vma_address), and a page-table walk there
 * (page_vma_mapped_walk); `visit` sees each PTE that maps this PFN and ends the walk by returning
 * false; `stop` may end it after any VMA. With `trace`, every step is recorded in the terms of the
 * diagram.
 */
export function rmapWalk (k: KernelState, pfn: number, visit: (m: RmapMapping) => boolean | undefined, trace?: RmapStep[], stop?: WalkStop): number {
  const t = walkTarget(k, pfn)
  const m = k.pageMapping(pfn)
  if (trace !== undefined) {
    const note = pfn === ZERO_PFN
      ? 'the zero page is not rmap-tracked: its PTEs are special and no walk can find them'
      : m === 0
        ? 'mapping is NULL: no rmap object to start from'
        : mappingIsAnon(m)
          ? `bit 0 (PAGE_MAPPING_ANON) of mapping is set: an anonymous page; mapping & ~1 points to anon_vma #${mappingId(m)}`
          : `bit 0 of mapping is clear: a page-cache page of address_space #${mappingId(m)}`
    trace.push({ step: 'page', pfn, mapping: mappingView(k, m), index: t.index, note })
  }
  const vmas = candidateVmas(k, t)
  if (trace !== undefined) {
    if (t.kind === 'anon' && t.anonVma !== undefined) {
      trace.push({ step: 'object', kind: 'anon_vma', id: t.anonVma.id, structure: k.model.anonName, query: { first: t.index, last: t.index }, vmas: vmas.length, note: k.model.describeAnonWalk(t.anonVma, t.index) })
    } else if (t.kind === 'file' && t.space !== undefined) {
      const nodes = t.space.immap.traceQuery?.(t.index, t.index).map((n) => ({ radix: n.radix, heap: n.heap, vmaIds: n.values.map((v) => v.id), overlaps: n.overlaps }))
      trace.push({ step: 'object', kind: 'address_space', id: t.space.id, name: t.space.name, structure: k.model.immapName, query: { first: t.index, last: t.index }, vmas: vmas.length, note: `VMAs in i_mmap of ${t.space.name} whose pgoff range holds index ${t.index}${nodes !== undefined ? ', found by walking the priority tree nodes in treeNodes ([radix_index, heap_index] = [vm_pgoff, last pgoff])' : ''}`, ...(nodes !== undefined ? { treeNodes: nodes } : {}) })
    } else {
      trace.push({ step: 'object', kind: 'none', vmas: 0, note: 'nothing to walk' })
    }
  }
  let matched = 0
  let stoppedEarly: string | undefined
  for (let i = 0; i < vmas.length; i++) {
    const vma = vmas[i]
    if (stop?.before?.test(vma) === true) {
      stoppedEarly = `VMA #${vma.id} of pid ${vma.mm.pid}: ${stop.before.why}; the walk stops, ${vmas.length - i} VMA(s) not visited`
      break
    }
    const addr = vma.addressOf(t.index)
    const inside = addr >= vma.start && addr < vma.end
    let outcome: WalkOutcome = 'outside_vma'
    let leaf: PteTable | undefined
    if (inside) {
      leaf = vma.mm.pgtable.leaf(addr)
      if (leaf === undefined) outcome = 'no_page_table'
      else {
        const pte = leaf.ptes[pteIndex(addr)]
        outcome = pte === 0 ? 'pte_none' : !pteMapped(pte) ? 'not_present' : ptePfn(pte) === pfn ? 'matched' : 'other_pfn'
      }
    }
    if (trace !== undefined) {
      const formula = `vm_start + (index - vm_pgoff) * PAGE_SIZE = ${hex(vma.start)} + (${t.index} - ${vma.pgoff}) * ${PAGE_SIZE} = ${hex(addr)}`
      const notes: Record<WalkOutcome, string> = {
        matched: `the PTE maps PFN ${pfn}: a mapping`,
        outside_vma: `${hex(addr)} is outside [${hex(vma.start)}, ${hex(vma.end)}): this VMA cannot map the page`,
        no_page_table: 'no page table covers the address',
        pte_none: 'the PTE is empty',
        not_present: 'the PTE is not present (a swap or migration entry)',
        other_pfn: 'the PTE maps another frame (this process has its own copy)'
      }
      trace.push({ step: 'vma', pid: vma.mm.pid, vmaId: vma.id, start: vma.start, end: vma.end, pgoff: vma.pgoff, formula, addr, levels: inside ? vma.mm.pgtable.walk(addr).map((e) => levelView(e, k.model.pteLayout)) : [], outcome, note: notes[outcome] })
    }
    if (outcome === 'matched' && leaf !== undefined) {
      matched++
      if (visit({ pid: vma.mm.pid, vma, addr, leaf, slot: pteIndex(addr) }) === false) break
    }
    if (stop !== undefined && i < vmas.length - 1 && stop.done()) {
      stoppedEarly = `${stop.why}: the walk stops, ${vmas.length - 1 - i} VMA(s) not visited`
      break
    }
  }
  if (trace !== undefined) trace.push({ step: 'done', matched, note: `${matched} PTE(s) map PFN ${pfn}; mapcount is ${k.mapcount(pfn)}${stoppedEarly !== undefined ? '; ' + stoppedEarly : ''}` })
  return matched
}

/** The rmap operations work on pages the rmap tracks: not the zero page, a free frame or a page table. */
export function checkRmapPage (k: KernelState, pfn: number, what: string): void {
  const kind = k.frameKind(pfn)
  if (kind === 'zero' || kind === 'pagetable' || kind === 'free') {
    throw new UnsupportedError(`${what}: PFN ${pfn} is ${kind === 'zero' ? 'the zero page' : kind === 'free' ? 'free' : 'a page-table page'}, which the rmap does not track`, 'EINVAL', { pfn, kind })
  }
}

/**
 * folio_referenced() / page_referenced(): test and clear the young bit of every mapping PTE; the
 * result is how many were young. 2.6.11 also counts (and clears) PG_referenced.
 */
export function pageReferenced (k: KernelState, pfn: number, trace?: RmapStep[]): { referenced: number, ptes: number } {
  let referenced = 0
  // page_referenced_one() counts each mapping found down from page_mapcount(); at 0 the walk ends.
  let mapcount = k.mapcount(pfn)
  const visit = (m: RmapMapping): boolean | undefined => {
    mapcount--
    // 6.18 folio_referenced_one(): a VM_LOCKED mapping ends the walk, its young bit untested.
    if (k.model.referencedStopsAtLockedMapping && (m.vma.flags & VM.LOCKED) !== 0) return false
    const pte = m.leaf.ptes[m.slot]
    if (pteYoung(pte)) {
      referenced++
      k.setPte(m.vma.mm, m.leaf, m.slot, m.addr, clearBits(pte, PTE_ACCESSED))
    }
    return undefined
  }
  // 2.6.11 page_referenced_file(): a VM_LOCKED|VM_MAYSHARE VMA counts as a reference and ends the walk.
  const lockedShared = (vma: Vma): boolean => {
    const hit = (vma.flags & (VM.LOCKED | VM.MAYSHARE)) === (VM.LOCKED | VM.MAYSHARE)
    if (hit) referenced++
    return hit
  }
  const stop: WalkStop = {
    done: () => mapcount <= 0,
    why: 'every mapping is counted (mapcount reached 0)',
    before: k.model.referencedStopsAtLockedSharedVma && !k.isAnonPage(pfn) ? { test: lockedShared, why: 'VM_LOCKED|VM_MAYSHARE counts as referenced' } : undefined
  }
  // page_referenced(): `if (page_mapped(page) && page->mapping)` (6.18 folio_referenced: `if (!pra.mapcount) return 0`).
  let ptes = 0
  if (mapcount > 0) ptes = rmapWalk(k, pfn, visit, trace, stop)
  else trace?.push({ step: 'done', matched: 0, note: `PFN ${pfn} is not mapped: page_referenced does not walk the rmap` })
  if (k.model.referencedCountsPageFlag && (k.pageFlags(pfn) & PG.referenced) !== 0) {
    referenced++
    k.clearPageFlags(pfn, PG.referenced)
  }
  return { referenced, ptes }
}

export interface UnmapResult {
  /** PTEs that were cleared. */
  unmapped: number
  /** Whether every mapping is gone. */
  success: boolean
  reason?: string
  /** Anonymous pages: the swap slot now holding the data. */
  swapSlot?: number
  /** The frame was written out and freed. */
  freed: boolean
  dirty: boolean
}

/** try_to_unmap() may need a swap slot: an anonymous page not yet in the swap cache gets one. */
export function checkTryToUnmap (k: KernelState, pfn: number): void {
  checkRmapPage(k, pfn, 'try_to_unmap')
  if (k.isAnonPage(pfn) && (k.pageFlags(pfn) & PG.swapcache) === 0) k.swap.ensureAvailable(1)
}

/**
 * What reclaim does to one page (shrink_folio_list): an anonymous page is added to the swap cache,
 * try_to_unmap() turns each mapping PTE into a swap entry (the PTE's dirty bit moves to the page),
 * then the page is written out and leaves the swap cache, freed. A page-cache page just loses its
 * PTEs and stays cached. 2.6.11's try_to_unmap_one() refuses a young PTE (clearing it), so a second
 * try succeeds.
 */
export function tryToUnmap (k: KernelState, pfn: number, trace?: RmapStep[]): UnmapResult {
  const anon = k.isAnonPage(pfn)
  let slot: number | undefined
  if (anon) slot = k.swap.slotOfPfn.get(pfn) ?? addToSwap(k, pfn)
  let unmapped = 0
  let failed: string | undefined
  // 2.6.11 try_to_unmap_anon/_file: `if (ret == SWAP_FAIL || !page_mapped(page)) break`; 6.18 rwc->done = folio_not_mapped.
  const unmappedAll: WalkStop = { done: () => k.mapcount(pfn) === 0, why: 'the page is no longer mapped' }
  rmapWalk(k, pfn, (m) => {
    const pte = m.leaf.ptes[m.slot]
    // try_to_unmap_one(): a VM_LOCKED mapping ends the walk (6.18 walk_abort, 2.6.11 SWAP_FAIL).
    if ((m.vma.flags & VM.LOCKED) !== 0) {
      failed = `pid ${m.pid} maps it at ${hex(m.addr)} in an mlocked VMA: try_to_unmap_one does not unmap it`
      return false
    }
    if (k.model.unmapRefusesYoung && pteYoung(pte)) {
      k.setPte(m.vma.mm, m.leaf, m.slot, m.addr, clearBits(pte, PTE_ACCESSED))
      failed = `the PTE of pid ${m.pid} at ${hex(m.addr)} was young (recently used): try_to_unmap_one refused and cleared it`
      return false
    }
    if (pteDirty(pte)) k.setPageFlags(pfn, PG.dirty)
    const mm: Mm = m.vma.mm
    if (anon && slot !== undefined) {
      const exclusive = k.model.tracksAnonExclusive && (k.pageFlags(pfn) & PG.anonExclusive) !== 0
      k.clearPageFlags(pfn, PG.anonExclusive)
      k.swap.dup(slot)
      k.setPte(mm, m.leaf, m.slot, m.addr, makeSwapPte(slot, exclusive))
      mm.rss.anon--
      mm.rss.swap++
    } else {
      k.setPte(mm, m.leaf, m.slot, m.addr, 0)
      if (k.frameKind(pfn) === 'shmem') mm.rss.shmem--
      else mm.rss.file--
    }
    k.unmapPage(pfn)
    k.putPage(pfn)
    unmapped++
    return undefined
  }, trace, unmappedAll)
  const dirty = (k.pageFlags(pfn) & PG.dirty) !== 0
  const success = k.mapcount(pfn) === 0
  if (anon && success && slot !== undefined) {
    // pageout() writes it to the slot; __remove_mapping() drops it from the swap cache.
    deleteFromSwapCache(k, pfn)
    return { unmapped, success, swapSlot: slot, freed: true, dirty }
  }
  return { unmapped, success, reason: failed, swapSlot: slot, freed: false, dirty }
}

/**
 * folio_mkclean() then the write-back that calls it: every PTE of a VM_SHARED mapping of the page is
 * made read-only and clean (the next write faults and re-dirties), a dirty PTE dirties the page, and
 * the write-back leaves the page clean.
 */
export function pageMkclean (k: KernelState, pfn: number): { cleaned: number, wasDirty: boolean } {
  let cleaned = 0
  let wasDirty = (k.pageFlags(pfn) & PG.dirty) !== 0
  if (!k.isAnonPage(pfn)) {
    rmapWalk(k, pfn, (m) => {
      if (!m.vma.isShared) return undefined
      const pte = m.leaf.ptes[m.slot]
      if (pteDirty(pte) || pteWrite(pte)) {
        if (pteDirty(pte)) wasDirty = true
        k.setPte(m.vma.mm, m.leaf, m.slot, m.addr, clearBits(pte, PTE_DIRTY | PTE_RW))
        cleaned++
      }
      return undefined
    })
    k.clearPageFlags(pfn, PG.dirty)
  }
  return { cleaned, wasDirty }
}

/** Migration needs a frame to move the page to. */
export function checkMigratePage (k: KernelState, pfn: number): void {
  checkRmapPage(k, pfn, 'migrate')
  k.frames.ensureAvailable(1, 'migration')
}

/**
 * migrate_pages() for one page: try_to_migrate() turns every mapping PTE into a migration entry,
 * the contents and state move to a new frame (folio_migrate_mapping: the page-cache or swap-cache
 * slot now points at it), and remove_migration_ptes() maps the new frame where the old one was.
 */
export function migratePage (k: KernelState, pfn: number): { newPfn: number, remapped: number } {
  const places: RmapMapping[] = []
  rmapWalk(k, pfn, (m) => {
    const pte = m.leaf.ptes[m.slot]
    const bits = SWP_TAG_MIGRATION | (pteWrite(pte) ? SWP_MIG_WRITE : 0) | (pteYoung(pte) ? SWP_MIG_YOUNG : 0) | (pteDirty(pte) ? SWP_MIG_DIRTY : 0)
    k.setPte(m.vma.mm, m.leaf, m.slot, m.addr, makePte(pfn, bits))
    places.push(m)
    return undefined
  })
  const newPfn = k.allocFrame()
  const s = pfn - ZERO_PFN
  const d = newPfn - ZERO_PFN
  const f = k.frames
  f.flags[d] = f.flags[s]
  f.mapping[d] = f.mapping[s]
  f.index[d] = f.index[s]
  f.refcount[d] = f.refcount[s]
  f.mapcountRaw[d] = f.mapcountRaw[s]
  if (mappingIsAnon(f.mapping[d])) {
    const av = k.anonVmas.get(mappingId(f.mapping[d]))
    if (av !== undefined) av.pages++
  } else {
    const space = k.spaces.get(mappingId(f.mapping[d]))
    if (space !== undefined && space.cache.get(f.index[d]) === pfn) space.cache.set(f.index[d], newPfn)
  }
  const slot = k.swap.slotOfPfn.get(pfn)
  if (slot !== undefined) k.swap.moveCache(slot, newPfn)
  for (const m of places) {
    // remove_migration_pte(): mk_pte(new, vm_page_prot), writable/old/dirty as the entry recorded.
    const b = pteBits(m.leaf.ptes[m.slot])
    let bits = vmPageProt(k.model, m.vma)
    if (b & SWP_MIG_WRITE) bits |= PTE_RW
    if (!(b & SWP_MIG_YOUNG)) bits &= ~PTE_ACCESSED
    if (b & SWP_MIG_DIRTY) bits |= PTE_DIRTY
    k.setPte(m.vma.mm, m.leaf, m.slot, m.addr, makePte(newPfn, bits))
  }
  // The old frame: its references went with the contents.
  f.refcount[s] = 1
  f.mapcountRaw[s] = -1
  f.flags[s] &= ~(PG.swapcache | PG.anonExclusive)
  k.putPage(pfn)
  return { newPfn, remapped: places.length }
}

/**
 * Reclaim of clean, unmapped page-cache pages of one file (the page-cache half of shrink_folio_list
 * and invalidate_mapping_pages): each is removed from the cache and freed. shmem pages have no
 * backing file to be re-read from, so they are not evicted.
 */
export function evictFile (k: KernelState, space: AddressSpace): { evicted: Array<{ index: number, pfn: number }>, kept: Array<{ index: number, pfn: number, why: string }> } {
  const evicted: Array<{ index: number, pfn: number }> = []
  const kept: Array<{ index: number, pfn: number, why: string }> = []
  for (const index of space.cachedIndexes()) {
    const pfn = space.cache.get(index) as number
    let why: string | null = null
    if (space.kind === 'shmem') why = 'shmem pages live only in memory (or swap)'
    else if (k.mapcount(pfn) > 0) why = `mapped by ${k.mapcount(pfn)} PTE(s)`
    else if ((k.pageFlags(pfn) & PG.dirty) !== 0) why = 'dirty: needs write-back first (page_mkclean)'
    else if (k.refcount(pfn) !== 1) why = `extra references (${k.refcount(pfn)})`
    if (why !== null) { kept.push({ index, pfn, why }); continue }
    space.cache.delete(index)
    k.putPage(pfn)
    evicted.push({ index, pfn })
  }
  return { evicted, kept }
}

/**
 * PG_mlocked as the page's mappings say: set while any VM_LOCKED VMA maps it (the count of mlocked
 * mappings in folio->mlock_count, read off the rmap here, as try_to_munlock() did in 2.6.28 to 5.x).
 * The zero page is never mlocked.
 */
export function mlockUpdate (k: KernelState, pfn: number): void {
  if (!k.model.tracksMlock || pfn === ZERO_PFN || k.refcount(pfn) === 0 || (k.pageFlags(pfn) & PG.table) !== 0) return
  let locked = false
  if (k.mapcount(pfn) > 0) {
    rmapWalk(k, pfn, (m) => {
      if ((m.vma.flags & VM.LOCKED) === 0) return undefined
      locked = true
      return false
    })
  }
  if (locked) k.setPageFlags(pfn, PG.mlocked)
  else k.clearPageFlags(pfn, PG.mlocked)
}
