import type { IMmap } from './immap.js'

/**
 * struct address_space of a file or of a shmem object: its page cache (index -> PFN) and i_mmap, the
 * VMAs mapping it keyed by [vm_pgoff, vm_pgoff + pages - 1], in the structure of the session's kernel
 * (KernelModel.newImmap: 6.18's interval tree, 2.6.11's priority search tree).
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
  /** Replaced only when a snapshot restores its exact structure. */
  immap: IMmap

  constructor (id: number, name: string, kind: SpaceKind, pages: number, immap: IMmap) {
    this.id = id
    this.name = name
    this.kind = kind
    this.pages = pages
    this.immap = immap
  }

  /** Cached page indexes in ascending order. */
  cachedIndexes (): number[] {
    return [...this.cache.keys()].sort((a, b) => a - b)
  }
}
