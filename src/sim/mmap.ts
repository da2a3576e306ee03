import { PAGE_SIZE, hex } from './constants.js'
import type { AddressSpace } from './address-space.js'
import { ConflictError, InvalidArgumentError, LimitError } from './errors.js'
import type { KernelState } from './kernel-state.js'
import { zapRange } from './memory.js'
import type { Mm } from './mm.js'
import { linkVma, splitVma, tryMerge, unlinkVma } from './vma-ops.js'
import { VM, type Vma } from './vma.js'

/** mmap and munmap: mm/mmap.c do_mmap(), mm/vma.c mmap_region() and do_vmi_munmap(). */

export type FixedMode = 'noreplace' | 'replace' | 'hint'

export interface MmapArgs {
  /** Where to map; without it the kernel chooses (get_unmapped_area). */
  addr?: number
  /** How `addr` is used: MAP_FIXED_NOREPLACE (default), MAP_FIXED, or a plain hint. */
  fixed?: FixedMode
  pages: number
  flags: number
  shared: boolean
  mapping: AddressSpace | null
  /** File offset in pages. */
  offset: number
}

/** Throws unless `n` more VMAs fit in the mm (sysctl_max_map_count, ENOMEM). */
export function ensureVmaRoom (k: KernelState, mm: Mm, n: number): void {
  if (mm.vmas.length + n > k.limits.maxVmasPerProcess) {
    throw new LimitError(`process ${mm.pid} would have more than ${k.limits.maxVmasPerProcess} VMAs`, { pid: mm.pid, vmas: mm.vmas.length })
  }
}

/** How many VMAs munmap of [lo, hi) adds (a cut strictly inside one VMA splits it in two). */
function splitsAdded (mm: Mm, lo: number, hi: number): number {
  const v = mm.vmaAt(lo)
  return v !== undefined && v.start < lo && v.end > hi ? 1 : 0
}

/** A length in pages: a positive whole number (1.5 pages is not a length mmap can express). */
export function checkPages (pages: number, what: string, field = 'pages'): void {
  if (!Number.isSafeInteger(pages) || pages <= 0) throw new InvalidArgumentError(`${what}: ${field} must be a whole number of pages, at least 1`, 'EINVAL', { [field]: pages })
}

/** `pastTop` is the errno of a range past TASK_SIZE: ENOMEM for most calls, EINVAL for munmap (do_munmap). */
export function checkUserRange (k: KernelState, addr: number, len: number, what: string, pastTop: 'ENOMEM' | 'EINVAL' = 'ENOMEM'): void {
  if (!Number.isSafeInteger(addr) || addr < 0 || addr % PAGE_SIZE !== 0) {
    throw new InvalidArgumentError(`${what}: address ${Number.isFinite(addr) ? hex(addr) : String(addr)} is not a page-aligned user address`, 'EINVAL', { addr })
  }
  if (!Number.isSafeInteger(len) || len <= 0) throw new InvalidArgumentError(`${what}: length must be at least one page`, 'EINVAL', { len })
  if (addr + len > k.model.taskSize) {
    throw new InvalidArgumentError(`${what}: [${hex(addr)}, ${hex(addr + len)}) goes past the top of user space (${hex(k.model.taskSize)})`, pastTop, { addr, len })
  }
}

/** Validates an mmap request against the state; returns the address it will use. Changes nothing. */
export function checkMmap (k: KernelState, mm: Mm, a: MmapArgs): { addr: number, searched: boolean } {
  const len = a.pages * PAGE_SIZE
  if (!Number.isSafeInteger(a.pages) || a.pages <= 0) throw new InvalidArgumentError('mmap: length must be at least one page', 'EINVAL', { pages: a.pages })
  if (a.mapping !== null && a.mapping.kind === 'file') {
    if (!Number.isSafeInteger(a.offset) || a.offset < 0) throw new InvalidArgumentError('mmap: offset must be a non-negative number of pages', 'EINVAL', { offset: a.offset })
    if (a.offset >= a.mapping.pages) {
      throw new InvalidArgumentError(`mmap: offset ${a.offset} is past the end of ${a.mapping.name} (${a.mapping.pages} pages)`, 'ENXIO', { offset: a.offset, filePages: a.mapping.pages })
    }
  }
  const mode = a.fixed ?? 'noreplace'
  if (a.addr !== undefined && mode !== 'hint') {
    checkUserRange(k, a.addr, len, 'mmap')
    if (a.addr < k.model.mmapMinAddr) throw new InvalidArgumentError(`mmap: ${hex(a.addr)} is below vm.mmap_min_addr (${hex(k.model.mmapMinAddr)})`, 'EPERM', { addr: a.addr })
    const emulated = k.model.fixedNoreplace === 'hint'
    const how = emulated ? 'MAP_FIXED_NOREPLACE came in 4.17: 2.6.11 takes the address as a hint, kept only where it is free' : 'MAP_FIXED_NOREPLACE'
    if (mode === 'noreplace' && !mm.isFree(a.addr, a.addr + len)) {
      const v = mm.findVma(a.addr) as Vma
      throw new ConflictError(`mmap: [${hex(a.addr)}, ${hex(a.addr + len)}) overlaps the mapping at [${hex(v.start)}, ${hex(v.end)}) (${how})`, 'EEXIST', { addr: a.addr, existing: { start: v.start, end: v.end } })
    }
    if (mode === 'noreplace' && emulated && a.addr === 0) {
      throw new ConflictError(`mmap: address 0 is no hint in 2.6.11 (arch_get_unmapped_area: \`if (addr)\`), so the mapping would land elsewhere (${how})`, 'EEXIST', { addr: 0 })
    }
    ensureVmaRoom(k, mm, 1 + (mode === 'replace' ? splitsAdded(mm, a.addr, a.addr + len) : 0))
    return { addr: a.addr, searched: false }
  }
  ensureVmaRoom(k, mm, 1)
  if (a.addr !== undefined) {
    // A hint is only a hint: rounded (round_hint_to_min), used when the range there is free.
    if (!Number.isSafeInteger(a.addr) || a.addr < 0) throw new InvalidArgumentError(`mmap: hint ${String(a.addr)} is not an address`, 'EINVAL', { addr: a.addr })
    const hint = k.model.roundHint(a.addr)
    if (hint !== 0 && hint >= k.model.mmapMinAddr && hint + len <= k.model.taskSize && mm.isFree(hint, hint + len)) return { addr: hint, searched: false }
  }
  const anonPrivate = a.mapping === null && !a.shared
  const addr = k.model.getUnmappedArea(mm, len, anonPrivate)
  if (addr === null) throw new LimitError(`mmap: no free range of ${a.pages} pages in process ${mm.pid}`, { pages: a.pages })
  return { addr, searched: true }
}

/**
 * do_mmap() + mmap_region() at an address checkMmap() approved: a VMA (merged with a neighbour when
 * flags, file, pgoff and anon_vma allow), its pgoff chosen as the kernel does.
 */
export function doMmap (k: KernelState, mm: Mm, a: MmapArgs, at: { addr: number, searched: boolean }): Vma {
  const addr = at.addr
  const end = addr + a.pages * PAGE_SIZE
  if (at.searched) k.model.noteSearchedArea(mm, addr, a.pages * PAGE_SIZE)
  if ((a.fixed ?? 'noreplace') === 'replace' && a.addr !== undefined) doMunmap(k, mm, addr, end)
  let flags = a.flags | VM.MAYREAD | VM.MAYWRITE | VM.MAYEXEC
  let mapping = a.mapping
  let pgoff: number
  if (a.shared) flags |= VM.SHARED | VM.MAYSHARE
  // accountable_mapping(): private writable memory is charged (VM_ACCOUNT).
  if ((flags & (VM.SHARED | VM.WRITE)) === VM.WRITE) flags |= VM.ACCOUNT
  if (mapping !== null) {
    pgoff = a.offset
  } else if (a.shared) {
    // do_mmap(): MAP_SHARED anonymous ignores pgoff (modern) and shmem_zero_setup() backs it with a
    // shmem object of vm_end - vm_start bytes: with 2.6.11's kept offset, indexes past it are SIGBUS.
    pgoff = k.model.sharedAnonPgoffZero ? 0 : a.offset
    mapping = k.newSpace(`dev/zero (shmem #${k.nextSpaceId})`, 'shmem', a.pages)
  } else {
    // do_mmap(): "Set pgoff according to addr for anon_vma".
    pgoff = addr / PAGE_SIZE
  }
  // Every mmap of a file opens it anew: a struct file of its own (see Vma.file).
  const file = mapping === null ? 0 : k.nextFileId++
  if (mapping === null || mapping.kind === 'file') {
    const { prev, next } = neighbours(mm, addr)
    const merged = tryMerge(k, mm, { start: addr, end, pgoff, flags, mapping, file, anonVma: null, src: null, cloneFrom: null }, prev, next)
    if (merged !== null) return merged
  }
  const vma = k.newVma(mm, addr, end, pgoff, flags, mapping)
  vma.file = file
  linkVma(k, vma)
  k.emitVma('vma.created', vma)
  return vma
}

/** The VMAs around a free range starting at `addr`. */
export function neighbours (mm: Mm, addr: number): { prev: Vma | undefined, next: Vma | undefined } {
  const i = mm.vmas.findIndex((v) => v.end > addr)
  return i < 0 ? { prev: mm.vmas[mm.vmas.length - 1], next: undefined } : { prev: mm.vmas[i - 1], next: mm.vmas[i] }
}

/**
 * do_vmi_munmap(): split the VMAs at the edges, zap their PTEs, free the page tables nobody needs
 * any more (free_pgtables between the neighbours), then remove the VMAs.
 */
export function doMunmap (k: KernelState, mm: Mm, lo: number, hi: number): void {
  let vmas = mm.vmasIn(lo, hi)
  if (vmas.length === 0) return
  const keepOutside = k.model.munmapKeepsOriginalOutside
  const first = vmas[0]
  if (first.start < lo) splitVma(k, first, lo, !keepOutside)
  const last = mm.vmasIn(lo, hi).at(-1) as Vma
  if (last.end > hi) splitVma(k, last, hi, keepOutside)
  vmas = mm.vmasIn(lo, hi)
  for (const v of vmas) zapRange(k, mm, v, v.start, v.end)
  const floor = mm.vmas[mm.vmas.indexOf(vmas[0]) - 1]?.end ?? 0
  const ceiling = mm.vmas[mm.vmas.indexOf(vmas[vmas.length - 1]) + 1]?.start ?? 2 ** 47
  const spanLo = vmas[0].start
  const spanHi = vmas[vmas.length - 1].end
  for (const v of vmas) {
    unlinkVma(k, v)
    k.emitVma('vma.removed', v)
    // 2.6.11 unmap_vma() -> arch_unmap_area(area): each removed VMA's own vm_start.
    k.model.noteUnmap(mm, v.start)
  }
  mm.pgtable.freeRange(spanLo, spanHi, floor, ceiling)
}

/** Checks an munmap request; changes nothing. */
export function checkMunmap (k: KernelState, mm: Mm, addr: number, pages: number): void {
  checkPages(pages, 'munmap')
  // do_munmap() / do_vmi_munmap(): start > TASK_SIZE || len > TASK_SIZE - start -> -EINVAL.
  checkUserRange(k, addr, pages * PAGE_SIZE, 'munmap', 'EINVAL')
  ensureVmaRoom(k, mm, splitsAdded(mm, addr, addr + pages * PAGE_SIZE))
}
