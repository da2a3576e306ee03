import { PAGE_SIZE } from './constants.js'
import { PG, ZERO_PFN } from './frames.js'
import type { KernelState } from './kernel-state.js'
import { checkFault, handleMmFault, type AccessOp } from './memory.js'
import type { Mm } from './mm.js'
import { pteMapped, ptePfn } from './pte.js'

/** get_user_pages for populating a range: mm/gup.c. */

/**
 * faultin_page_range() / populate_vma_page_range(): GUP over [lo, hi). A page GUP can follow as it is
 * is only touched (FOLL_TOUCH: folio_mark_accessed, and set_page_dirty for a write); any other page
 * faults as an access would (a read maps the zero page or the page-cache page, a write breaks COW).
 * The caller has checked that the frames are there; pages that would take a signal are left as they
 * are (mlock's populate ignores errors; madvise's checked there are none).
 */
export function populateRange (k: KernelState, mm: Mm, lo: number, hi: number, op: AccessOp, force = false): void {
  for (let addr = lo; addr < hi; addr += PAGE_SIZE) {
    let fault = checkFault(k, mm, addr, op)
    // FOLL_FORCE (mlock's populate of an accessible VMA): a read GUP may take where access_error would not.
    if (force && fault.kind === 'signal' && fault.siCode === 'SEGV_ACCERR' && fault.vma !== undefined) fault = { ...fault, kind: 'fault', vma: fault.vma }
    if (fault.kind === 'fault') {
      handleMmFault(k, fault, op)
    } else if (fault.kind === 'hardware' && pteMapped(fault.pteBefore)) {
      const pfn = ptePfn(fault.pteBefore)
      if (pfn !== ZERO_PFN) k.setPageFlags(pfn, PG.referenced | (op === 'write' ? PG.dirty : 0))
    }
  }
}
