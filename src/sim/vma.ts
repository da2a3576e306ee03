import { PAGE_SIZE, hex } from './constants.js'
import { InvalidArgumentError } from './errors.js'
import type { AddressSpace } from './address-space.js'
import type { AnonVma, AnonVmaChain } from './anon-vma.js'
import type { IntervalNode } from './interval-tree.js'
import type { Mm } from './mm.js'

/** vm_flags bits (include/linux/mm.h). */
export const VM = {
  READ: 0x1,
  WRITE: 0x2,
  EXEC: 0x4,
  SHARED: 0x8,
  MAYREAD: 0x10,
  MAYWRITE: 0x20,
  MAYEXEC: 0x40,
  MAYSHARE: 0x80,
  /** VM_LOCKED: mlock(2); the pages are unevictable and fault in at once. */
  LOCKED: 0x00002000,
  /** VM_DONTCOPY: MADV_DONTFORK; fork leaves the VMA out of the child. */
  DONTCOPY: 0x00020000,
  /** VM_ACCOUNT: private writable memory charged to the commit limit; it keeps apart VMAs that differ in it. */
  ACCOUNT: 0x00100000,
  /** VM_WIPEONFORK: MADV_WIPEONFORK; the child gets the VMA but none of its pages. */
  WIPEONFORK: 0x02000000
} as const
export const VM_ACCESS_FLAGS = VM.READ | VM.WRITE | VM.EXEC
export const VM_FLAG_NAMES: Record<number, string> = {
  [VM.READ]: 'read',
  [VM.WRITE]: 'write',
  [VM.EXEC]: 'exec',
  [VM.SHARED]: 'shared',
  [VM.MAYREAD]: 'mayread',
  [VM.MAYWRITE]: 'maywrite',
  [VM.MAYEXEC]: 'mayexec',
  [VM.MAYSHARE]: 'mayshare',
  [VM.LOCKED]: 'locked',
  [VM.DONTCOPY]: 'dontcopy',
  [VM.ACCOUNT]: 'account',
  [VM.WIPEONFORK]: 'wipeonfork'
}

export function vmFlagNames (flags: number): string[] {
  const out: string[] = []
  for (const bit of Object.keys(VM_FLAG_NAMES)) if (flags & Number(bit)) out.push(VM_FLAG_NAMES[Number(bit)])
  return out
}

/** A protection as the API spells it: any of r, w, x in that order, or "none". */
export const PROTS = ['none', 'r', 'w', 'x', 'rw', 'rx', 'wx', 'rwx'] as const
export type Prot = typeof PROTS[number]

export function protToVmFlags (prot: Prot): number {
  if (prot === 'none') return 0
  let f = 0
  for (const c of prot) {
    if (c === 'r') f |= VM.READ
    else if (c === 'w') f |= VM.WRITE
    else if (c === 'x') f |= VM.EXEC
  }
  return f
}

/** The protections by their VM_READ | VM_WRITE | VM_EXEC bits (1, 2, 4). */
const PROT_BY_BITS: readonly Prot[] = ['none', 'r', 'w', 'rw', 'x', 'rx', 'wx', 'rwx']

export function vmFlagsToProt (flags: number): Prot {
  return PROT_BY_BITS[flags & VM_ACCESS_FLAGS]
}

/** is_cow_mapping(): private and may become writable, so writes must copy (include/linux/mm.h). */
export const isCowMapping = (flags: number): boolean => (flags & (VM.SHARED | VM.MAYWRITE)) === VM.MAYWRITE

/** struct vm_area_struct. */
export class Vma {
  readonly id: number
  mm: Mm
  start: number
  end: number
  /** vm_pgoff: the offset, in pages, of vm_start in the mapped object. */
  pgoff: number
  flags: number
  /** vm_file->f_mapping: a regular file or a shmem object; null for private anonymous memory. */
  mapping: AddressSpace | null
  /**
   * vm_file: which open file (struct file) this VMA maps through, by number; 0 for private anonymous
   * memory. Every mmap opens the file anew (as open() + mmap() does), and merges compare vm_file, so
   * two mmaps of one file never merge; split, fork and mremap keep it.
   */
  file = 0
  anonVma: AnonVma | null = null
  /** anon_vma_chain: the AVCs linking this VMA to anon_vmas (modern model only). */
  readonly chain: AnonVmaChain[] = []
  /** This VMA's node in file->i_mmap. */
  immapNode: IntervalNode<Vma> | null = null

  constructor (id: number, mm: Mm, start: number, end: number, pgoff: number, flags: number, mapping: AddressSpace | null) {
    this.id = id
    this.mm = mm
    this.start = start
    this.end = end
    this.pgoff = pgoff
    this.flags = flags
    this.mapping = mapping
  }

  get pages (): number { return (this.end - this.start) / PAGE_SIZE }
  /** The last pgoff covered, the interval tree key's end (vma_last_pgoff). */
  get lastPgoff (): number { return this.pgoff + this.pages - 1 }
  get isAnonymous (): boolean { return this.mapping === null }
  get isShared (): boolean { return (this.flags & VM.SHARED) !== 0 }

  /** linear_page_index(): the pgoff of the page at `addr`. */
  linearPageIndex (addr: number): number {
    return this.pgoff + (addr - this.start) / PAGE_SIZE
  }

  /** vma_address(): where a page with this index would sit in this VMA (may be outside it). */
  addressOf (index: number): number {
    return this.start + (index - this.pgoff) * PAGE_SIZE
  }

  contains (addr: number): boolean { return addr >= this.start && addr < this.end }

  toString (): string { return `vma#${this.id}[${hex(this.start)}-${hex(this.end)}]` }
}

const isProt = (prot: string): prot is Prot => (PROTS as readonly string[]).includes(prot)

/** The protection of an op or a route ("rw", "rx", "none", ...) as VM_READ | VM_WRITE | VM_EXEC; EINVAL for another spelling. */
export function parseProt (prot: string): number {
  if (!isProt(prot)) throw new InvalidArgumentError(`prot "${prot}" is not one of r, w, x in that order (e.g. "rw", "rx") or "none"`, 'EINVAL', { prot })
  return protToVmFlags(prot)
}
