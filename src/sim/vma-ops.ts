import { PAGE_SIZE } from './constants.js'
import type { AddressSpace } from './address-space.js'
import type { AnonVma } from './anon-vma.js'
import type { KernelState } from './kernel-state.js'
import type { Mm } from './mm.js'
import type { Vma } from './vma.js'

/**
 * VMA bookkeeping shared by mmap, munmap, mprotect, mremap and fork (mm/vma.c): linking into the mm
 * and into i_mmap, changing a VMA's range (keeping the interval trees keyed right), split and merge.
 */

export function linkVma (k: KernelState, vma: Vma): void {
  vma.mm.insertVma(vma)
  if (vma.mapping !== null) vma.immapNode = vma.mapping.immap.insert(vma, vma.pgoff, vma.lastPgoff)
}

/**
 * dup_mmap(): the child's copy of `parent` joins the mm, and i_mmap right after the parent
 * (6.18 vma_interval_tree_insert_after, 2.6.11 vma_prio_tree_add(tmp, mpnt)).
 */
export function linkForkedVma (k: KernelState, vma: Vma, parent: Vma): void {
  vma.mm.insertVma(vma)
  if (vma.mapping !== null) {
    vma.immapNode = parent.immapNode !== null
      ? vma.mapping.immap.insertAfter(vma, vma.pgoff, vma.lastPgoff, parent.immapNode)
      : vma.mapping.immap.insert(vma, vma.pgoff, vma.lastPgoff)
  }
}

/** Removes a VMA from the mm, from i_mmap and from its anon_vmas (remove_vma / unlink_file_vma). */
export function unlinkVma (k: KernelState, vma: Vma): void {
  vma.mm.removeVma(vma)
  if (vma.mapping !== null && vma.immapNode !== null) {
    vma.mapping.immap.remove(vma.immapNode)
    vma.immapNode = null
    if (vma.mapping.kind === 'shmem' && vma.mapping.immap.isEmpty()) shmemEvictInode(k, vma.mapping)
  }
  k.model.unlinkAnonVmas(k, vma)
}

/**
 * The last mapping of a MAP_SHARED|MAP_ANONYMOUS object is gone: its "dev/zero" file is released and
 * shmem_evict_inode() -> shmem_truncate_range() frees every page it held.
 */
function shmemEvictInode (k: KernelState, space: AddressSpace): void {
  for (const index of space.cachedIndexes()) {
    const pfn = space.cache.get(index) as number
    space.cache.delete(index)
    k.putPage(pfn)
  }
  // shmem_free_swap(): the slots of its swapped-out pages go too.
  for (const slot of space.swapped.values()) k.swap.put(slot)
  space.swapped.clear()
  k.spaces.delete(space.id)
}

/**
 * Changes [start, end) and pgoff of a linked VMA, taking it out of i_mmap and its anon_vma trees
 * while the keys change (vma_prepare/vma_complete, anon_vma_interval_tree_pre/post_update_vma).
 */
export function adjustVma (k: KernelState, vma: Vma, start: number, end: number, pgoff: number): void {
  const keyChanges = pgoff !== vma.pgoff || end - start !== vma.end - vma.start
  // vma_adjust() (2.6.11) and vma_prepare()/vma_complete() (6.18) take the VMA out of i_mmap and put
  // it back whatever changes, so it goes behind the VMAs with the same keys.
  const space = immapOut(vma)
  const reindexAnon = keyChanges ? k.model.beginVmaUpdate(vma) : undefined
  setRange(vma, start, end, pgoff)
  immapBack(vma, space)
  reindexAnon?.()
}

/** Takes a VMA out of i_mmap; returns the address_space to put it back into (null: it is in none). */
function immapOut (vma: Vma): AddressSpace | null {
  if (vma.mapping === null || vma.immapNode === null) return null
  vma.mapping.immap.remove(vma.immapNode)
  return vma.mapping
}

function immapBack (vma: Vma, space: AddressSpace | null): void {
  if (space !== null) vma.immapNode = space.immap.insert(vma, vma.pgoff, vma.lastPgoff)
}

/** The VMA's new range and pgoff, keeping the mm's VMA list in address order. */
function setRange (vma: Vma, start: number, end: number, pgoff: number): void {
  const reorder = start !== vma.start
  if (reorder) vma.mm.removeVma(vma)
  vma.start = start
  vma.end = end
  vma.pgoff = pgoff
  if (reorder) vma.mm.insertVma(vma)
}

/**
 * __split_vma(): cuts `vma` at `addr`. With newBelow the new VMA is the lower piece, otherwise the
 * upper one; the upper piece's vm_pgoff grows by the pages below the cut. Both keep the anon_vma(s)
 * (anon_vma_clone). Returns the new VMA.
 */
export function splitVma (k: KernelState, vma: Vma, addr: number, newBelow: boolean): Vma {
  const cutPages = (addr - vma.start) / PAGE_SIZE
  const mm = vma.mm
  const created = newBelow
    ? k.newVma(mm, vma.start, addr, vma.pgoff, vma.flags, vma.mapping)
    : k.newVma(mm, addr, vma.end, vma.pgoff + cutPages, vma.flags, vma.mapping)
  created.file = vma.file
  created.anonVma = vma.anonVma
  k.model.anonVmaClone(k, created, vma)
  // vma_adjust() (2.6.11 "Put into prio_tree now") / vma_prepare() (6.18): the new piece enters
  // i_mmap before the original is taken out and put back with its new range.
  immapBack(created, created.mapping)
  if (newBelow) adjustVma(k, vma, addr, vma.end, vma.pgoff + cutPages)
  else adjustVma(k, vma, vma.start, addr, vma.pgoff)
  mm.insertVma(created)
  k.emitVma('vma.split', vma, created)
  return created
}

/** Can a VMA with these properties continue right after `prev` (is_mergeable_vma + pgoff continuity)? */
function continues (prev: Vma, c: MergeCandidate): boolean {
  return prev.end === c.start && prev.flags === c.flags && prev.mapping === c.mapping && prev.file === c.file && prev.pgoff + prev.pages === c.pgoff
}

export interface MergeCandidate {
  start: number
  end: number
  pgoff: number
  flags: number
  mapping: AddressSpace | null
  file: number
  anonVma: AnonVma | null
  /** The existing VMA being merged and removed (mprotect), or null for a new range (mmap, mremap). */
  src: Vma | null
  /** Where a target without an anon_vma clones the candidate's anon_vmas from (src, or mremap's old VMA). */
  cloneFrom: Vma | null
}

/**
 * vma_merge_new_range / vma_merge_existing_range: merges the candidate range into `prev` and/or `next`
 * where flags, file, pgoff continuity and anon_vmas allow, and returns the VMA that now covers it, or
 * null when it merged with neither. An existing `src` VMA is removed when it is absorbed.
 */
export function tryMerge (k: KernelState, mm: Mm, c: MergeCandidate, prev: Vma | undefined, next: Vma | undefined): Vma | null {
  const pages = (c.end - c.start) / PAGE_SIZE
  const withPrev = prev !== undefined && continues(prev, c) &&
    k.model.isMergeableAnonVma(prev, c.anonVma, c.src, c.cloneFrom)
  const withNext = next !== undefined && next.start === c.end && next.flags === c.flags && next.mapping === c.mapping &&
    next.file === c.file && c.pgoff + pages === next.pgoff && k.model.isMergeableAnonVma(next, c.anonVma, c.src, c.cloneFrom)
  if (withPrev && withNext && prev !== undefined && next !== undefined &&
      (prev.anonVma === null || next.anonVma === null || prev.anonVma === next.anonVma)) {
    absorb(k, prev, c.cloneFrom, c.anonVma)
    absorb(k, prev, next, next.anonVma)
    adjustVma(k, prev, prev.start, next.end, prev.pgoff)
    if (c.src !== null) unlinkVma(k, c.src)
    unlinkVma(k, next)
    k.emitVma('vma.merged', prev, next)
    return prev
  }
  if (withPrev && prev !== undefined) {
    absorb(k, prev, c.cloneFrom, c.anonVma)
    if (c.src !== null) unlinkVma(k, c.src)
    adjustVma(k, prev, prev.start, c.end, prev.pgoff)
    k.emitVma('vma.merged', prev, c.src ?? undefined)
    return prev
  }
  if (withNext && next !== undefined) {
    absorb(k, next, c.cloneFrom, c.anonVma)
    if (c.src !== null) unlinkVma(k, c.src)
    adjustVma(k, next, c.start, next.end, c.pgoff)
    k.emitVma('vma.merged', next, c.src ?? undefined)
    return next
  }
  return null
}

/** dup_anon_vma(): a target without an anon_vma takes the source's before absorbing it. */
function absorb (k: KernelState, target: Vma, from: Vma | null, srcAnon: AnonVma | null): void {
  if (target.anonVma !== null || srcAnon === null || from === null) return
  target.anonVma = srcAnon
  k.model.anonVmaClone(k, target, from)
}

/**
 * vma_modify_flags() over [lo, hi) (mprotect_fixup, madvise_update_vma, mlock_fixup): each VMA whose
 * flags change is split at the range's edges, takes its new flags (`changed` runs then, e.g. to
 * change its PTEs), and merges with its neighbours where it now can. VMAs whose flags stay are left
 * as they are. Callers check the room for the splits first.
 */
export function modifyVmaFlags (k: KernelState, mm: Mm, lo: number, hi: number, flagsFor: (vma: Vma) => number, changed?: (vma: Vma, lo: number, hi: number) => void, merge = true): void {
  for (const vma of mm.vmasIn(lo, hi)) {
    // A VMA merged into the previous one already carries the new flags.
    if (!mm.vmas.includes(vma)) continue
    const newFlags = flagsFor(vma)
    if (newFlags === vma.flags) continue
    const s = Math.max(lo, vma.start)
    const e = Math.min(hi, vma.end)
    if (merge && mergePartial(k, mm, vma, s, e, newFlags, changed)) continue
    const target = vma
    if (target.start < lo) splitVma(k, target, lo, true)
    if (target.end > hi) splitVma(k, target, hi, false)
    target.flags = newFlags
    k.emitVma('vma.changed', target)
    changed?.(target, target.start, target.end)
    if (!merge) continue
    const i = mm.vmas.indexOf(target)
    tryMerge(k, mm, {
      start: target.start,
      end: target.end,
      pgoff: target.pgoff,
      flags: target.flags,
      mapping: target.mapping,
      file: target.file,
      anonVma: target.anonVma,
      src: target,
      cloneFrom: target
    }, mm.vmas[i - 1], mm.vmas[i + 1])
  }
}

/**
 * vma_merge() before any split (2.6.11 mprotect_fixup cases 4 and 5; 6.18 vma_merge_existing_range,
 * merge left / right): a change of the first part of `vma` that the previous VMA can take moves the
 * boundary between them up, one of its last part that the next VMA can take moves it down. No VMA is
 * made, the original keeps its identity and its place in the anon_vma list. Returns false when neither
 * applies (the caller splits).
 */
function mergePartial (k: KernelState, mm: Mm, vma: Vma, s: number, e: number, newFlags: number, changed?: (vma: Vma, lo: number, hi: number) => void): boolean {
  if (s === vma.start && e === vma.end) return false
  const i = mm.vmas.indexOf(vma)
  const pages = (e - s) / PAGE_SIZE
  const rangePgoff = vma.pgoff + (s - vma.start) / PAGE_SIZE
  const fits = (other: Vma): boolean => other.flags === newFlags && other.mapping === vma.mapping && other.file === vma.file &&
    k.model.isMergeableAnonVma(other, vma.anonVma, vma, vma)
  const prev = mm.vmas[i - 1]
  const next = mm.vmas[i + 1]
  let into: Vma
  if (s === vma.start && prev !== undefined && prev.end === s && prev.pgoff + prev.pages === rangePgoff && fits(prev)) {
    // case 5 / merge left: vma_adjust(prev, prev->vm_start, end, ...) with adjust_next > 0.
    absorb(k, prev, vma, vma.anonVma)
    adjustPair(k, prev, prev.start, e, prev.pgoff, vma, e, vma.end, vma.pgoff + pages)
    into = prev
  } else if (e === vma.end && next !== undefined && next.start === e && rangePgoff + pages === next.pgoff && fits(next)) {
    // case 4 / merge right: vma_adjust(vma, vma->vm_start, addr, ...) with adjust_next < 0.
    absorb(k, next, vma, vma.anonVma)
    adjustPair(k, vma, vma.start, s, vma.pgoff, next, s, next.end, rangePgoff)
    into = next
  } else {
    return false
  }
  k.emitVma('vma.changed', into)
  k.emitVma('vma.changed', vma)
  changed?.(into, s, e)
  return true
}

/**
 * vma_adjust() with adjust_next: `a` and its neighbour `b` change their ranges together. i_mmap as
 * the kernel does it: both out (a first), then b back in, then a.
 */
function adjustPair (k: KernelState, a: Vma, aStart: number, aEnd: number, aPgoff: number, b: Vma, bStart: number, bEnd: number, bPgoff: number): void {
  const spaceA = immapOut(a)
  const spaceB = immapOut(b)
  const reA = k.model.beginVmaUpdate(a)
  const reB = k.model.beginVmaUpdate(b)
  setRange(a, aStart, aEnd, aPgoff)
  setRange(b, bStart, bEnd, bPgoff)
  immapBack(b, spaceB)
  immapBack(a, spaceA)
  reB?.()
  reA?.()
}
