import { PAGE_SIZE, hex } from './constants.js'
import { InvalidArgumentError, LimitError } from './errors.js'
import type { KernelState } from './kernel-state.js'
import { checkPages, checkUserRange, doMunmap, ensureVmaRoom, neighbours } from './mmap.js'
import type { Mm } from './mm.js'
import { pteIndex } from './page-table.js'
import { adjustVma, linkVma, tryMerge } from './vma-ops.js'
import type { Vma } from './vma.js'

/** mremap: mm/mremap.c (shrink, expand in place, move with move_vma / copy_vma / move_page_tables). */

export interface MremapArgs {
  addr: number
  pages: number
  newPages: number
  /** MREMAP_FIXED: the new place, which must not overlap the old range. */
  newAddr?: number
  /** MREMAP_MAYMOVE (default true): without it a grow that does not fit in place fails. */
  mayMove?: boolean
}

export type MremapPlan =
  | { kind: 'shrink' | 'same' | 'expand', vma: Vma }
  | { kind: 'move', vma: Vma, to: number, searched?: boolean }
  | { kind: 'moveMany', parts: Array<{ from: number, len: number, to: number }> }

export function checkMremap (k: KernelState, mm: Mm, a: MremapArgs): MremapPlan {
  checkPages(a.pages, 'mremap')
  checkPages(a.newPages, 'mremap', 'newPages')
  checkUserRange(k, a.addr, a.pages * PAGE_SIZE, 'mremap')
  if (!Number.isSafeInteger(a.newPages) || a.newPages <= 0) throw new InvalidArgumentError('mremap: the new length must be at least one page', 'EINVAL', { newPages: a.newPages })
  const oldLen = a.pages * PAGE_SIZE
  const newLen = a.newPages * PAGE_SIZE
  const vma = mm.vmaAt(a.addr)
  if (vma === undefined) throw new InvalidArgumentError(`mremap: no mapping at ${hex(a.addr)}`, 'EFAULT', { addr: a.addr })
  if (a.addr + oldLen > vma.end && a.newAddr !== undefined && newLen === oldLen && k.model.mremapMovesMultipleVmas) {
    return planMoveMany(k, mm, a.addr, oldLen, a.newAddr)
  }
  if (a.addr + oldLen > vma.end) {
    throw new InvalidArgumentError(`mremap: [${hex(a.addr)}, ${hex(a.addr + oldLen)}) runs past the mapping's end ${hex(vma.end)}`, 'EFAULT', { addr: a.addr, vmaEnd: vma.end })
  }
  if (a.newAddr !== undefined) {
    checkUserRange(k, a.newAddr, newLen, 'mremap')
    if (a.addr + oldLen > a.newAddr && a.newAddr + newLen > a.addr) {
      throw new InvalidArgumentError('mremap: with MREMAP_FIXED the new range must not overlap the old one', 'EINVAL', { addr: a.addr, newAddr: a.newAddr })
    }
    if (a.mayMove === false) throw new InvalidArgumentError('mremap: MREMAP_FIXED needs MREMAP_MAYMOVE', 'EINVAL')
    // move_vma(): "We'd prefer to avoid failure later on in do_munmap", map_count + 3.
    ensureVmaRoom(k, mm, 3)
    k.frames.ensureAvailable(mm.pgtable.tablesNeeded(a.newAddr, a.newAddr + Math.min(oldLen, newLen)), 'mremap')
    return { kind: 'move', vma, to: a.newAddr }
  }
  if (newLen === oldLen) return { kind: 'same', vma }
  if (newLen < oldLen) {
    ensureVmaRoom(k, mm, a.addr + oldLen < vma.end ? 1 : 0)
    return { kind: 'shrink', vma }
  }
  const end = a.addr + newLen
  if (vma.end === a.addr + oldLen && end <= k.model.taskSize && mm.isFree(vma.end, end)) return { kind: 'expand', vma }
  if (a.mayMove === false) throw new LimitError(`mremap: cannot grow in place at ${hex(a.addr)} and MREMAP_MAYMOVE is not set`, { addr: a.addr })
  ensureVmaRoom(k, mm, 3)
  const to = k.model.getUnmappedArea(mm, newLen, vma.mapping === null && !vma.isShared)
  if (to === null) throw new LimitError(`mremap: no free range of ${a.newPages} pages`)
  k.frames.ensureAvailable(mm.pgtable.tablesNeeded(to, to + oldLen), 'mremap')
  return { kind: 'move', vma, to, searched: true }
}

export function doMremap (k: KernelState, mm: Mm, a: MremapArgs, plan: MremapPlan): number {
  const oldLen = a.pages * PAGE_SIZE
  const newLen = a.newPages * PAGE_SIZE
  switch (plan.kind) {
    case 'same':
      return a.addr
    case 'shrink':
      doMunmap(k, mm, a.addr + newLen, a.addr + oldLen)
      return a.addr
    case 'expand': {
      const v = plan.vma
      const end = a.addr + newLen
      if (k.model.mremapExpandMerges) {
        // vma_merge_extend(): the new range [vm_end, end) merges into the VMA, and on into the next
        // VMA when that one is compatible (vma_merge_new_range).
        const merged = tryMerge(k, mm, {
          start: v.end,
          end,
          pgoff: v.pgoff + v.pages,
          flags: v.flags,
          mapping: v.mapping,
          file: v.file,
          anonVma: v.anonVma,
          src: null,
          cloneFrom: v
        }, v, mm.next(v))
        if (merged !== null) return a.addr
      }
      // vma_adjust(): vm_end grows, vm_pgoff stays.
      adjustVma(k, v, v.start, end, v.pgoff)
      k.emitVma('vma.changed', v)
      return a.addr
    }
    case 'moveMany':
      for (const p of plan.parts) {
        doMunmap(k, mm, p.to, p.to + p.len)
        moveVma(k, mm, mm.vmaAt(p.from) as Vma, p.from, p.len, p.to, p.len)
      }
      return plan.parts[0].to
    case 'move': {
      // mremap_to(): MREMAP_FIXED first unmaps the destination, then trims the old range.
      let moveLen = oldLen
      if (plan.searched === true) k.model.noteSearchedArea(mm, plan.to, newLen)
      if (a.newAddr !== undefined) doMunmap(k, mm, plan.to, plan.to + newLen)
      if (newLen < oldLen) {
        doMunmap(k, mm, a.addr + newLen, a.addr + oldLen)
        moveLen = newLen
      }
      moveVma(k, mm, mm.vmaAt(a.addr) as Vma, a.addr, moveLen, plan.to, newLen)
      return plan.to
    }
  }
}

/**
 * remap_move() (mm/mremap.c, 6.17+): MREMAP_FIXED without a size change moves every VMA in the range,
 * each part split off as needed, keeping the gaps between them; no gap is allowed at the start.
 */
function planMoveMany (k: KernelState, mm: Mm, addr: number, len: number, newAddr: number): MremapPlan {
  checkUserRange(k, newAddr, len, 'mremap')
  if (addr + len > newAddr && newAddr + len > addr) {
    throw new InvalidArgumentError('mremap: with MREMAP_FIXED the new range must not overlap the old one', 'EINVAL', { addr, newAddr })
  }
  const parts: Array<{ from: number, len: number, to: number }> = []
  let target = newAddr
  let lastEnd = 0
  for (const v of mm.vmasIn(addr, addr + len)) {
    const from = Math.max(v.start, addr)
    const partLen = Math.min(addr + len, v.end) - from
    const to = target + (parts.length > 0 ? v.start - lastEnd : 0)
    lastEnd = v.end
    parts.push({ from, len: partLen, to })
    target = to + partLen
  }
  ensureVmaRoom(k, mm, 3 * parts.length)
  let tables = 0
  for (const p of parts) tables += mm.pgtable.tablesNeeded(p.to, p.to + p.len)
  k.frames.ensureAvailable(tables, 'mremap')
  return { kind: 'moveMany', parts }
}

/**
 * move_vma(): copy_vma() makes the VMA at the new place (pgoff kept, plus the offset of the moved
 * part; a never-faulted anonymous VMA takes new_addr >> PAGE_SHIFT), move_page_tables() moves the
 * PTEs (not the data: mapcounts and page indexes stay), and the old range is unmapped.
 */
function moveVma (k: KernelState, mm: Mm, vma: Vma, addr: number, oldLen: number, to: number, newLen: number): void {
  let pgoff = vma.pgoff + (addr - vma.start) / PAGE_SIZE
  if (vma.mapping === null && vma.anonVma === null) pgoff = to / PAGE_SIZE
  const { prev, next } = neighbours(mm, to)
  let dest = tryMerge(k, mm, {
    start: to, end: to + newLen, pgoff, flags: vma.flags, mapping: vma.mapping, file: vma.file, anonVma: vma.anonVma, src: null, cloneFrom: vma
  }, prev, next)
  if (dest === null) {
    dest = k.newVma(mm, to, to + newLen, pgoff, vma.flags, vma.mapping)
    dest.file = vma.file
    dest.anonVma = vma.anonVma
    k.model.anonVmaClone(k, dest, vma)
    linkVma(k, dest)
    k.emitVma('vma.created', dest)
  }
  k.emitVma('vma.moved', dest, { id: vma.id, start: addr, end: addr + oldLen, pgoff: vma.pgoff + (addr - vma.start) / PAGE_SIZE, flags: vma.flags })
  movePageTables(k, mm, addr, to, oldLen)
  doMunmap(k, mm, addr, addr + oldLen)
}

/** move_page_tables() / move_ptes(): each entry is cleared at the old address and set at the new. */
function movePageTables (k: KernelState, mm: Mm, from: number, to: number, len: number): void {
  const moves: Array<[number, number]> = []
  mm.pgtable.forEachLeaf(from, from + len, (leaf, lo, hi, base) => {
    for (let i = lo; i < hi; i++) if (leaf.ptes[i] !== 0) moves.push([base + i * PAGE_SIZE, leaf.ptes[i]])
  })
  for (const [oldAddr, pte] of moves) {
    const src = mm.pgtable.leaf(oldAddr)
    if (src !== undefined) k.setPte(mm, src, pteIndex(oldAddr), oldAddr, 0)
    const newAddr = to + (oldAddr - from)
    k.setPte(mm, mm.pgtable.leafAlloc(newAddr), pteIndex(newAddr), newAddr, pte)
  }
}
