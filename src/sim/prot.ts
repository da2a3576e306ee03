import type { KernelModel } from './models/kernel-model.js'
import { PTE_ACCESSED, PTE_NX, PTE_PRESENT, PTE_PROTNONE, PTE_RW, PTE_USER } from './pte.js'
import { VM, VM_ACCESS_FLAGS, type Vma } from './vma.js'

/**
 * vma_wants_writenotify(): a shared writable mapping of a file with dirty accounting starts read-only
 * so the first write is seen (mm/mmap.c). shmem has no writeback, so it does not.
 */
export function wantsWriteNotify (model: KernelModel, vma: Vma): boolean {
  return model.writeNotify && vma.isShared && (vma.flags & VM.WRITE) !== 0 && vma.mapping !== null && vma.mapping.kind === 'file'
}

/**
 * vm_get_page_prot() from the x86 protection_map (arch/x86/mm/pgprot.c): present entries are
 * PRESENT|USER|ACCESSED; RW only for shared writable mappings that need no write-notify (private
 * ones get write access per fault, for COW); NX without VM_EXEC; PROT_NONE is PROTNONE|ACCESSED.
 */
export function vmPageProt (model: KernelModel, vma: Vma): number {
  if ((vma.flags & VM_ACCESS_FLAGS) === 0) return PTE_PROTNONE | PTE_ACCESSED
  let bits = PTE_PRESENT | PTE_USER | PTE_ACCESSED
  if ((vma.flags & VM.EXEC) === 0) bits |= PTE_NX
  if (vma.isShared && (vma.flags & VM.WRITE) !== 0 && !wantsWriteNotify(model, vma)) bits |= PTE_RW
  return bits
}

/** maybe_mkwrite(): writable only if the VMA is. */
export const maybeMkwrite = (vma: Vma): number => (vma.flags & VM.WRITE) !== 0 ? PTE_RW : 0
