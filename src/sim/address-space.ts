import { IntervalTree } from './interval-tree.js'
import type { Vma } from './vma.js'

/**
 * struct address_space of a file or of a shmem object: its page cache (index -> PFN) and i_mmap, the
 * VMAs mapping it in an interval tree keyed by [vm_pgoff, vm_pgoff + pages - 1] (the 2.6.11 model calls
 * the same structure a priority tree; the query answer is the same).
 */
export type SpaceKind = 'file' | 'shmem'

export class AddressSpace {
  readonly id: number
  readonly name: string
  readonly kind: SpaceKind
  /** i_size in pages: a fault at or past it is SIGBUS. */
  readonly pages: number
  readonly cache = new Map<number, number>()
  /** shmem only: pages written to swap (shmem_writepage), index -> slot, held in place of the page. */
  readonly swapped = new Map<number, number>()
  readonly immap = new IntervalTree<Vma>()

  constructor (id: number, name: string, kind: SpaceKind, pages: number) {
    this.id = id
    this.name = name
    this.kind = kind
    this.pages = pages
  }

  /** Cached page indexes in ascending order. */
  cachedIndexes (): number[] {
    return [...this.cache.keys()].sort((a, b) => a - b)
  }
}
