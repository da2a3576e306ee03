import { PAGE_SIZE } from '../constants.js'
import type { AnonVma } from '../anon-vma.js'
import { VM_ACCESS_FLAGS, type Vma } from '../vma.js'

/**
 * anon_vma_compatible(): `b` could merge after `a` if only their access flags differed
 * (mm/vma.c; 2.6.11 mm/mmap.c find_mergeable_anon_vma checks the same).
 */
export function anonVmaCompatible (a: Vma, b: Vma): boolean {
  return a.end === b.start && a.mapping === b.mapping && a.file === b.file &&
    ((a.flags ^ b.flags) & ~VM_ACCESS_FLAGS) === 0 &&
    b.pgoff === a.pgoff + (b.start - a.start) / PAGE_SIZE
}

/**
 * find_mergeable_anon_vma(): an anon_vma a neighbour already has and this VMA may share, next first,
 * then prev. `reusable` adds the modern test that the neighbour's chain is singular.
 */
export function findMergeableAnonVma (vma: Vma, reusable: (near: Vma) => boolean): AnonVma | null {
  const next = vma.mm.next(vma)
  if (next !== undefined && next.anonVma !== null && anonVmaCompatible(vma, next) && reusable(next)) return next.anonVma
  const prev = vma.mm.prev(vma)
  if (prev !== undefined && prev.anonVma !== null && anonVmaCompatible(prev, vma) && reusable(prev)) return prev.anonVma
  return null
}
