import { PAGE_SIZE, hex } from './constants.js'
import { InvalidArgumentError } from './errors.js'
import { PG } from './frames.js'
import type { KernelState } from './kernel-state.js'
import { populateRange } from './gup.js'
import { zapRange } from './memory.js'
import { madviseFree, pageoutCandidates, reclaimFolio } from './reclaim.js'
import { checkPages, checkUserRange, ensureVmaRoom } from './mmap.js'
import type { Mm } from './mm.js'
import { checkFullyMapped } from './mprotect.js'
import { checkFeature } from './models/features.js'
import { modifyVmaFlags } from './vma-ops.js'
import { VM, type Vma } from './vma.js'

/**
 * madvise: mm/madvise.c. The advices that change rmap state or what fork does: MADV_DONTNEED (zap),
 * MADV_PAGEOUT (reclaim now, reclaim.ts), MADV_FREE (lazy free),
 * MADV_DONTFORK / MADV_DOFORK (VM_DONTCOPY), MADV_WIPEONFORK / MADV_KEEPONFORK (VM_WIPEONFORK), and
 * MADV_POPULATE_READ / MADV_POPULATE_WRITE (fault the range in as GUP does).
 */
export const ADVICES = ['dontneed', 'pageout', 'free', 'dontfork', 'dofork', 'wipeonfork', 'keeponfork', 'populate_read', 'populate_write'] as const
export type Advice = typeof ADVICES[number]

/** The kernel feature an advice is, by the name of its constant (kernels that lack one refuse it). */
export const adviceFeature = (advice: Advice): string => `MADV_${advice.toUpperCase()}`

/** Advices that set or clear a VMA flag (madvise_update_vma). */
const FLAG_ADVICES: Partial<Record<Advice, { set?: number, clear?: number }>> = {
  dontfork: { set: VM.DONTCOPY },
  dofork: { clear: VM.DONTCOPY },
  wipeonfork: { set: VM.WIPEONFORK },
  keeponfork: { clear: VM.WIPEONFORK }
}

/** The kernel model has the advice, or UnsupportedError naming the version that added it. */
export function checkAdviceSupported (k: KernelState, advice: Advice): void {
  const feature = adviceFeature(advice)
  checkFeature(k, feature, `madvise(${feature})`, { advice })
}

/**
 * madvise_behavior_valid() and the per-VMA checks, before anything changes: the range mapped without
 * holes (ENOMEM), dontneed not on an mlocked VMA (madvise_dontneed_free_valid_vma: EINVAL),
 * wipeonfork on private anonymous memory only (EINVAL), populate only where GUP may fault
 * (check_vma_flags with FOLL_MADV_POPULATE: EINVAL; a page past the end of its file: EFAULT), room for
 * the VMA splits and the frames a populate may take.
 */
export function checkMadvise (k: KernelState, mm: Mm, addr: number, pages: number, advice: Advice): void {
  checkAdviceSupported(k, advice)
  checkPages(pages, 'madvise')
  checkUserRange(k, addr, pages * PAGE_SIZE, 'madvise')
  const hi = addr + pages * PAGE_SIZE
  const vmas = checkFullyMapped(mm, addr, hi, 'madvise')
  const bad = (vma: Vma, why: string, errno = 'EINVAL'): never => {
    throw new InvalidArgumentError(`madvise(${adviceFeature(advice)}): ${why} at [${hex(vma.start)}, ${hex(vma.end)})`, errno, { advice, start: vma.start, end: vma.end })
  }
  for (const vma of vmas) {
    // madvise_dontneed_free_valid_vma() and can_madv_lru_vma(): not on a VM_LOCKED VMA.
    if ((advice === 'dontneed' || advice === 'free' || advice === 'pageout') && (vma.flags & VM.LOCKED) !== 0) bad(vma, 'the VMA is mlocked')
    // madvise_free_single_vma(): anonymous memory only.
    if (advice === 'free' && vma.mapping !== null) bad(vma, 'MADV_FREE takes anonymous memory only')
    if (advice === 'wipeonfork' && (vma.mapping !== null || vma.isShared)) bad(vma, 'only private anonymous memory can be wiped on fork')
    if (advice === 'populate_read' || advice === 'populate_write') {
      const write = advice === 'populate_write'
      if ((vma.flags & (write ? VM.WRITE : VM.READ)) === 0) bad(vma, write ? 'the VMA is not writable' : 'the VMA is not readable')
      const end = Math.min(hi, vma.end)
      if (vma.mapping !== null && vma.linearPageIndex(end - PAGE_SIZE) >= vma.mapping.pages) bad(vma, `pages past the end of ${vma.mapping.name} would take SIGBUS`, 'EFAULT')
    }
  }
  if (FLAG_ADVICES[advice] !== undefined) ensureVmaRoom(k, mm, (vmas[0].start < addr ? 1 : 0) + (vmas[vmas.length - 1].end > hi ? 1 : 0))
  if (advice === 'populate_read' || advice === 'populate_write') k.frames.ensureAvailable(pages + mm.pgtable.tablesNeeded(addr, hi), 'madvise populate')
  if (advice === 'pageout') k.swap.ensureAvailable(pageoutCandidates(k, mm, addr, hi).filter((pfn) => (k.isAnonPage(pfn) && (k.pageFlags(pfn) & PG.swapcache) === 0) || k.frameKind(pfn) === 'shmem').length)
}

export function doMadvise (k: KernelState, mm: Mm, addr: number, pages: number, advice: Advice): void {
  const hi = addr + pages * PAGE_SIZE
  const flags = FLAG_ADVICES[advice]
  if (flags !== undefined) {
    modifyVmaFlags(k, mm, addr, hi, (vma) => (vma.flags | (flags.set ?? 0)) & ~(flags.clear ?? 0))
  } else if (advice === 'pageout') {
    // madvise_pageout() -> reclaim_pages(): folios are isolated onto a list with list_add, so the
    // list is reclaimed from its last folio back.
    for (const pfn of pageoutCandidates(k, mm, addr, hi).reverse()) reclaimFolio(k, pfn)
  } else if (advice === 'free') {
    madviseFree(k, mm, addr, hi)
  } else if (advice === 'dontneed') {
    // madvise_dontneed_single_vma() -> zap_page_range_single(): the PTEs go; anonymous pages are freed
    // with their last mapping, page-cache pages stay cached, and the next touch faults afresh.
    for (const vma of mm.vmasIn(addr, hi)) zapRange(k, mm, vma, Math.max(addr, vma.start), Math.min(hi, vma.end))
  } else {
    populateRange(k, mm, addr, hi, advice === 'populate_write' ? 'write' : 'read')
  }
}
