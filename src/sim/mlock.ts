import { PAGE_SIZE, pageDown } from './constants.js'
import type { KernelState } from './kernel-state.js'
import { populateRange } from './gup.js'
import { checkPages, checkUserRange, ensureVmaRoom } from './mmap.js'
import type { Mm } from './mm.js'
import { checkFullyMapped } from './mprotect.js'
import { pteMapped, ptePfn } from './pte.js'
import { mlockUpdate } from './rmap.js'
import { modifyVmaFlags } from './vma-ops.js'
import { VM, VM_ACCESS_FLAGS } from './vma.js'

/**
 * mlock(2) and munlock(2): mm/mlock.c. A locked range is VM_LOCKED (split off and merged like any
 * flag) and is faulted in at once (__mm_populate); with PG_mlocked (2.6.28+) a page is mlocked
 * exactly while a VM_LOCKED VMA maps it (mlock_vma_folio / munlock_vma_folio count its mlocked
 * mappings), and reclaim leaves it alone.
 */

/** do_mlock(): start rounded down to its page, the length up to whole pages. */
export function lockRange (addr: number, pages: number): { lo: number, hi: number } {
  const lo = pageDown(addr)
  return { lo, hi: lo + Math.ceil((pages * PAGE_SIZE + (addr - lo)) / PAGE_SIZE) * PAGE_SIZE }
}

/** The range mapped without holes (ENOMEM), room for the splits, and the frames populating may take. */
export function checkMlock (k: KernelState, mm: Mm, addr: number, pages: number, lock: boolean): { lo: number, hi: number } {
  checkPages(pages, lock ? 'mlock' : 'munlock')
  const { lo, hi } = lockRange(addr, pages)
  checkUserRange(k, lo, hi - lo, lock ? 'mlock' : 'munlock')
  const vmas = checkFullyMapped(mm, lo, hi, lock ? 'mlock' : 'munlock')
  ensureVmaRoom(k, mm, (vmas[0].start < lo ? 1 : 0) + (vmas[vmas.length - 1].end > hi ? 1 : 0))
  if (lock) k.frames.ensureAvailable((hi - lo) / PAGE_SIZE + mm.pgtable.tablesNeeded(lo, hi), 'mlock')
  return { lo, hi }
}

/**
 * apply_vma_lock_flags() -> mlock_fixup() on every VMA of the range (6.18 merges afterwards; 2.6.11's
 * mlock_fixup only splits), mlock_vma_pages_range() for the pages already there, then for mlock
 * __mm_populate(): each accessible VMA part faulted in, for writing where the model says so.
 */
export function doMlock (k: KernelState, mm: Mm, lo: number, hi: number, lock: boolean): void {
  modifyVmaFlags(k, mm, lo, hi, (vma) => lock ? vma.flags | VM.LOCKED : vma.flags & ~VM.LOCKED, undefined, k.model.mlockMerges)
  mlockPresentPages(k, mm, lo, hi)
  if (lock) populateLocked(k, mm, lo, hi)
}

/**
 * __mm_populate() / 2.6.11 make_pages_present() of a locked range (mlock, and mremap growing a
 * VM_LOCKED mapping): each accessible VMA part faulted in, for writing where the model says so.
 */
export function populateLocked (k: KernelState, mm: Mm, lo: number, hi: number): void {
  for (const vma of mm.vmasIn(lo, hi)) {
    // populate_vma_page_range(): PROT_NONE is not faulted in; any other protection is (FOLL_FORCE).
    // 2.6.11 get_user_pages() without force: a VMA without VM_READ (or VM_WRITE for a write) fails
    // with EFAULT there, and mlock stops faulting (the error return itself is not modelled).
    const write = k.model.mlockFaultsWrite(vma)
    if ((vma.flags & VM_ACCESS_FLAGS) === 0) continue
    if (!k.model.mlockForcesPopulate && (vma.flags & (write ? VM.WRITE : VM.READ)) === 0) continue
    populateRange(k, mm, Math.max(lo, vma.start), Math.min(hi, vma.end), write ? 'write' : 'read', k.model.mlockForcesPopulate)
  }
}

/** mlock_vma_pages_range(): each page mapped in [lo, hi) mlocked or munlocked as its mappings now say. */
function mlockPresentPages (k: KernelState, mm: Mm, lo: number, hi: number): void {
  if (!k.model.tracksMlock) return
  mm.pgtable.forEachLeaf(lo, hi, (leaf, from, to) => {
    for (let i = from; i < to; i++) {
      const pte = leaf.ptes[i]
      if (pteMapped(pte)) mlockUpdate(k, ptePfn(pte))
    }
  })
}
