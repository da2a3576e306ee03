import { PAGE_SIZE } from './constants.js'
import { PG, ZERO_PFN } from './frames.js'
import type { KernelState } from './kernel-state.js'
import { checkFault, handleMmFault, type AccessOp } from './memory.js'
import type { Mm } from './mm.js'
import { pteDirty, pteMapped, ptePfn } from './pte.js'
import { markPageAccessed } from './lru.js'

/** get_user_pages for populating a range: mm/gup.c. */

/** 2.6.11 mm/memory.c untouched_anonymous_page(): private anonymous, no anon_vma, no PTE table yet. */
function untouchedAnonymousPage (mm: Mm, addr: number): boolean {
  const vma = mm.vmaAt(addr)
  return vma !== undefined && vma.mapping === null && !vma.isShared && vma.anonVma === null && mm.pgtable.leaf(addr) === undefined
}

/**
 * faultin_page_range() / populate_vma_page_range(): GUP over [lo, hi). A page GUP can follow as it is
 * is only touched (FOLL_TOUCH: folio_mark_accessed, and folio_mark_dirty for a write through a clean PTE); any other page
 * faults as an access would (a read maps the zero page or the page-cache page, a write breaks COW).
 * The caller has checked that the frames are there; pages that would take a signal are left as they
 * are (mlock's populate ignores errors; madvise's checked there are none).
 */
export function populateRange (k: KernelState, mm: Mm, lo: number, hi: number, op: AccessOp, force = false): void {
  for (let addr = lo; addr < hi; addr += PAGE_SIZE) {
    // 2.6.11 get_user_pages(): a read of untouched anonymous memory (no anon_vma, no
    // page table there) is answered with the zero page and faults nothing (untouched_anonymous_page).
    if (op === 'read' && k.model.gupSkipsUntouchedAnon && untouchedAnonymousPage(mm, addr)) continue
    let fault = checkFault(k, mm, addr, op)
    // FOLL_FORCE (mlock's populate of an accessible VMA): a read GUP may take where access_error would not.
    if (force && fault.kind === 'signal' && fault.siCode === 'SEGV_ACCERR' && fault.vma !== undefined) fault = { ...fault, kind: 'fault', vma: fault.vma }
    if (fault.kind === 'fault') {
      const { pfn } = handleMmFault(k, fault, op)
      // 2.6.11 get_user_pages(): follow_page() after the fault marks the page accessed too.
      if (pfn !== undefined && pfn !== ZERO_PFN) markPageAccessed(k, pfn)
    } else if (fault.kind === 'hardware' && pteMapped(fault.pteBefore)) {
      const pfn = ptePfn(fault.pteBefore)
      if (pfn === ZERO_PFN) continue
      // follow_page_pte() (2.6.11 follow_page()): FOLL_TOUCH dirties the folio for a write only when
      // the PTE is not dirty already (the dirt then still lives in the PTE), and marks it accessed.
      if (op === 'write' && !pteDirty(fault.pteBefore)) k.setPageFlags(pfn, PG.dirty)
      if (k.model.tracksPageActivity) markPageAccessed(k, pfn)
      else k.setPageFlags(pfn, PG.referenced)
    }
  }
}
