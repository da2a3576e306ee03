import { PAGE_SIZE, hex } from './constants.js'
import { InvalidArgumentError } from './errors.js'
import { PG, ZERO_PFN } from './frames.js'
import type { KernelState } from './kernel-state.js'
import { checkPages, ensureVmaRoom, checkUserRange } from './mmap.js'
import type { Mm } from './mm.js'
import { vmPageProt, wantsWriteNotify } from './prot.js'
import { PTE_ACCESSED, PTE_DIRTY, PTE_RW, PTE_SPECIAL, pteMapped, ptePfn } from './pte.js'
import { populateRange } from './gup.js'
import { modifyVmaFlags } from './vma-ops.js'
import { VM, VM_ACCESS_FLAGS, type Vma } from './vma.js'

/** mprotect: mm/mprotect.c do_mprotect_pkey(), mprotect_fixup(), change_pte_range(). */

/** Throws unless [lo, hi) is mapped without holes (the kernel's -ENOMEM). */
export function checkFullyMapped (mm: Mm, lo: number, hi: number, what: string): Vma[] {
  const vmas = mm.vmasIn(lo, hi)
  let at = lo
  for (const v of vmas) {
    if (v.start > at) break
    at = v.end
  }
  if (at < hi) throw new InvalidArgumentError(`${what}: [${hex(at)}, ${hex(Math.min(hi, mm.findVma(at)?.start ?? hi))}) is not mapped`, 'ENOMEM', { unmapped: at })
  return vmas
}

export function checkMprotect (k: KernelState, mm: Mm, addr: number, pages: number, protFlags: number): void {
  checkPages(pages, 'mprotect')
  checkUserRange(k, addr, pages * PAGE_SIZE, 'mprotect')
  const hi = addr + pages * PAGE_SIZE
  const vmas = checkFullyMapped(mm, addr, hi, 'mprotect')
  const splits = (vmas[0].start < addr ? 1 : 0) + (vmas[vmas.length - 1].end > hi ? 1 : 0)
  ensureVmaRoom(k, mm, splits)
  const cow = lockedCowParts(k, mm, addr, hi, protFlags)
  if (cow.length > 0) k.frames.ensureAvailable(pages + mm.pgtable.tablesNeeded(addr, hi), 'mprotect of an mlocked mapping')
}

/**
 * mprotect_fixup(): "Private VM_LOCKED VMA becoming writable: trigger COW to avoid major fault on
 * write access" (populate_vma_page_range; modern kernels). The parts of [lo, hi) that it faults in.
 */
function lockedCowParts (k: KernelState, mm: Mm, lo: number, hi: number, protFlags: number): Array<[number, number]> {
  if (!k.model.mprotectPopulatesLocked || (protFlags & VM.WRITE) === 0) return []
  return mm.vmasIn(lo, hi)
    .filter((v) => (v.flags & (VM.WRITE | VM.SHARED | VM.LOCKED)) === VM.LOCKED)
    .map((v) => [Math.max(lo, v.start), Math.min(hi, v.end)])
}

/** _PAGE_CHG_MASK: what pte_modify() keeps of the old entry besides the PFN. */
const KEEP = PTE_ACCESSED | PTE_DIRTY | PTE_SPECIAL

export function doMprotect (k: KernelState, mm: Mm, addr: number, pages: number, protFlags: number): void {
  const cow = lockedCowParts(k, mm, addr, addr + pages * PAGE_SIZE, protFlags)
  modifyVmaFlags(k, mm, addr, addr + pages * PAGE_SIZE, (vma) => {
    let newFlags = (vma.flags & ~VM_ACCESS_FLAGS) | protFlags
    // mprotect_fixup(): a private mapping made writable is charged (VM_ACCOUNT); one made read-only
    // keeps the charge, except anonymous memory that never had a page (modern kernels).
    if (newFlags & VM.WRITE) {
      if ((vma.flags & (VM.ACCOUNT | VM.WRITE | VM.SHARED)) === 0) newFlags |= VM.ACCOUNT
    } else if ((vma.flags & VM.ACCOUNT) !== 0 && k.model.mprotectUnaccountsUntouchedAnon && vma.mapping === null && vma.anonVma === null) {
      newFlags &= ~VM.ACCOUNT
    }
    return newFlags
  }, (vma, lo, hi) => { changeProtection(k, mm, vma, lo, hi) })
  for (const [lo, hi] of cow) populateRange(k, mm, lo, hi, 'write', true)
}

/**
 * change_pte_range(): each mapped PTE gets the new protection (pte_modify keeps PFN, accessed, dirty,
 * special). Modern kernels make it writable at once when that cannot break COW
 * (can_change_pte_writable: an exclusive anonymous page, or a dirty PTE of a write-notify mapping).
 */
function changeProtection (k: KernelState, mm: Mm, vma: Vma, lo: number, hi: number): void {
  const prot = vmPageProt(k.model, vma)
  const tryWritable = k.model.mprotectUpgradesWrite &&
    (vma.isShared ? wantsWriteNotify(k.model, vma) : (vma.flags & VM.WRITE) !== 0)
  mm.pgtable.forEachLeaf(lo, hi, (leaf, from, to, base) => {
    for (let i = from; i < to; i++) {
      const pte = leaf.ptes[i]
      if (!pteMapped(pte)) continue
      const low = (pte & 0xfff)
      let next = pte - low + ((low & KEEP) | (prot & ~KEEP))
      if (tryWritable && ((next & 0xfff) & PTE_RW) === 0 && canChangePteWritable(k, vma, next)) next += PTE_RW
      if (next !== pte) k.setPte(mm, leaf, i, base + i * PAGE_SIZE, next)
    }
  })
}

function canChangePteWritable (k: KernelState, vma: Vma, pte: number): boolean {
  if (((pte & 0xfff) & 0x1) === 0) return false // pte_protnone
  if (vma.isShared) return ((pte & 0xfff) & PTE_DIRTY) !== 0
  const pfn = ptePfn(pte)
  return pfn !== ZERO_PFN && k.isAnonPage(pfn) && (k.pageFlags(pfn) & PG.anonExclusive) !== 0
}
