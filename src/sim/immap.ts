import type { IntervalNode } from './interval-tree.js'
import type { PrioTreeShape } from './prio-tree.js'
import type { Vma } from './vma.js'

/**
 * i_mmap: the VMAs that map a file (or shmem object), keyed by [vm_pgoff, vm_pgoff + pages - 1].
 * The 6.18 model keeps them in an augmented interval tree (IntervalTree), the 2.6.11 model in a
 * radix priority search tree (PrioTree); each kernel's walk visits them in its own order.
 */
export interface IMmap {
  readonly size: number
  isEmpty: () => boolean
  /** __vma_link_file(): vma_interval_tree_insert / vma_prio_tree_insert. */
  insert: (vma: Vma, start: number, last: number) => IntervalNode<Vma>
  /** dup_mmap(): the child's VMA right after its parent's (vma_interval_tree_insert_after / vma_prio_tree_add). */
  insertAfter: (vma: Vma, start: number, last: number, parent: IntervalNode<Vma>) => IntervalNode<Vma>
  remove: (node: IntervalNode<Vma>) => void
  /** vma_interval_tree_foreach / vma_prio_tree_foreach over [start, last], in the kernel's order. */
  query: (start: number, last: number) => Generator<Vma>
  forEachOverlap: (start: number, last: number, fn: (vma: Vma, node: IntervalNode<Vma>) => void) => void
  values: () => Generator<Vma>
  validate: () => string | null
  /** The tree nodes a walk of [start, last] steps onto, in order (the priority tree shows its nodes). */
  traceQuery?: (start: number, last: number) => Array<{ radix: number, heap: number, values: Vma[], overlaps: boolean }>
  /** The exact structure, where iteration order depends on more than the keys (the priority tree). */
  shape?: (idOf: (v: Vma) => number) => PrioTreeShape
}
