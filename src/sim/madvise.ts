import { PAGE_SIZE } from './constants.js'
import type { KernelState } from './kernel-state.js'
import { zapRange } from './memory.js'
import { checkPages, checkUserRange } from './mmap.js'
import type { Mm } from './mm.js'
import { checkFullyMapped } from './mprotect.js'

/** madvise: mm/madvise.c. Only MADV_DONTNEED changes rmap state, so only it is modelled. */
export type Advice = 'dontneed'

export function checkMadvise (mm: Mm, addr: number, pages: number): void {
  checkPages(pages, 'madvise')
  checkUserRange(addr, pages * PAGE_SIZE, 'madvise')
  checkFullyMapped(mm, addr, addr + pages * PAGE_SIZE, 'madvise')
}

/**
 * madvise_dontneed_single_vma() -> zap_page_range_single(): the PTEs go; anonymous pages are freed with
 * their last mapping, page-cache pages stay cached, and the next touch faults afresh.
 */
export function doMadvise (k: KernelState, mm: Mm, addr: number, pages: number, _advice: Advice): void {
  const hi = addr + pages * PAGE_SIZE
  for (const vma of mm.vmasIn(addr, hi)) zapRange(k, mm, vma, Math.max(addr, vma.start), Math.min(hi, vma.end))
}
