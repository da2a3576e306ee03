import { PAGE_SIZE } from './constants.js'
import { LimitError } from './errors.js'
import { PG, PFN_BASE, ZERO_PFN } from './frames.js'
import type { KernelState } from './kernel-state.js'
import { Mm } from './mm.js'
import type { PteTable } from './page-table.js'
import { PTE_ACCESSED, PTE_DIRTY, PTE_PRESENT, PTE_PROTNONE, PTE_RW, SWP_EXCLUSIVE } from './pte.js'
import { linkForkedVma, unlinkVma } from './vma-ops.js'
import { VM, isCowMapping, type Vma } from './vma.js'

/** fork, spawn and exit: kernel/fork.c dup_mmap(), mm/memory.c copy_page_range(), mm/mmap.c exit_mmap(). */

function checkProcessRoom (k: KernelState): void {
  if (k.processes.size >= k.limits.maxProcesses) {
    throw new LimitError(`the session already has ${k.processes.size} processes (limit ${k.limits.maxProcesses})`)
  }
}

/** Room for a new process and its pgd. */
export function checkSpawn (k: KernelState): void {
  checkProcessRoom(k)
  k.frames.ensureAvailable(1, 'a new process (its pgd)')
}

/** A process with an empty address space (checkSpawn first). */
export function spawn (k: KernelState, name: string | null): Mm {
  const mm = new Mm(k.nextPid++, null, name, k.tables)
  k.model.initMm(mm, null)
  k.processes.set(mm.pid, mm)
  if (k.events.active) k.events.emit({ type: 'process.spawned', cause: k.cause, pid: mm.pid })
  return mm
}

/** Room for a child of `parent`: a process, and at most the parent's page-table pages. */
export function checkFork (k: KernelState, parent: Mm): void {
  checkProcessRoom(k)
  k.frames.ensureAvailable(parent.pgtable.tablePages, `fork of process ${parent.pid}`)
}

/**
 * dup_mmap(): the child gets a copy of every VMA (linked to the parent's anon_vmas by the model) and,
 * where the model says so, a copy of its PTEs (checkFork first). A VM_DONTCOPY VMA is left out; a
 * VM_WIPEONFORK one starts clean (no anon_vma, no PTEs: "a clean slate in the child"); the child's
 * VMAs are not VM_LOCKED (vm_flags_clear(tmp, VM_LOCKED_MASK); 2.6.11: tmp->vm_flags &= ~VM_LOCKED).
 */
export function fork (k: KernelState, parent: Mm, name: string | null): Mm {
  const child = new Mm(k.nextPid++, parent.pid, name, k.tables)
  k.model.initMm(child, parent)
  k.processes.set(child.pid, child)
  if (k.events.active) k.events.emit({ type: 'process.forked', cause: k.cause, pid: parent.pid, parent: parent.pid, child: child.pid })
  for (const vma of parent.vmas) {
    if ((vma.flags & VM.DONTCOPY) !== 0) continue
    const wipe = (vma.flags & VM.WIPEONFORK) !== 0
    const tmp = k.newVma(child, vma.start, vma.end, vma.pgoff, vma.flags & ~VM.LOCKED, vma.mapping)
    tmp.file = vma.file
    if (!wipe) k.model.anonVmaFork(k, tmp, vma)
    linkForkedVma(k, tmp, vma)
    k.emitVma('vma.created', tmp)
    if (!wipe && k.model.forkCopiesPtes(vma)) copyPageRange(k, child, tmp, parent, vma)
  }
  return child
}

/**
 * copy_page_range() -> copy_present_ptes() / copy_nonpresent_pte(): each mapped page gains a mapcount
 * and a reference; a private writable PTE is write-protected in the parent and the child; the child's
 * copy is old, and clean when the mapping is shared; an anonymous page stops being exclusive; a swap
 * entry gains a swap reference and loses its exclusive marker in both.
 */
export function copyPageRange (k: KernelState, dst: Mm, dstVma: Vma, src: Mm, srcVma: Vma): void {
  const copier = new PteRangeCopier(k, dst, dstVma, src, srcVma)
  src.pgtable.forEachLeaf(srcVma.start, srcVma.end, (leaf, from, to, base) => { copier.copyLeaf(leaf, from, to, base) })
}

/**
 * The per-leaf loop of copyPageRange, as a method rather than a closure made per fork: a fresh closure
 * starts cold in the interpreter, and a fork of 100,000 pages then took 8 ms instead of 1.6 ms on
 * every other run.
 */
class PteRangeCopier {
  private readonly cow: boolean
  private readonly reservedVerbatim: boolean
  private readonly trackExclusive: boolean
  private readonly childClear: number
  private readonly events: boolean
  private readonly dstShmem: boolean

  constructor (private readonly k: KernelState, private readonly dst: Mm, dstVma: Vma, private readonly src: Mm, srcVma: Vma) {
    this.cow = isCowMapping(srcVma.flags)
    this.trackExclusive = k.model.tracksAnonExclusive
    // 2.6.11 copy_one_pte(): a PageReserved page (the zero page) is copied verbatim.
    this.reservedVerbatim = !k.model.zeroPageSpecial
    this.childClear = PTE_ACCESSED | (srcVma.isShared ? PTE_DIRTY : 0)
    this.events = k.events.active
    this.dstShmem = dstVma.mapping?.kind === 'shmem'
  }

  copyLeaf (leaf: PteTable, from: number, to: number, base: number): void {
    const { k, dst, src, cow, reservedVerbatim, trackExclusive, childClear, events } = this
    const ptes = leaf.ptes
    let first = from
    while (first < to && ptes[first] === 0) first++
    if (first === to) return
    const dleaf = dst.pgtable.leafAlloc(base + first * PAGE_SIZE)
    const dptes = dleaf.ptes
    const { refcount, mapcountRaw, flags, mapping } = k.frames
    for (let i = first; i < to; i++) {
      const pte = ptes[i]
      if (pte === 0) continue
      const low = (pte & 0xfff)
      let child = pte
      if ((low & (PTE_PRESENT | PTE_PROTNONE)) !== 0) {
        const pfn = (pte - low) / 4096
        if (pfn !== ZERO_PFN) {
          const s = pfn - PFN_BASE
          refcount[s]++
          mapcountRaw[s]++
          if ((mapping[s] & 1) !== 0) {
            dst.rss.anon++
            if (trackExclusive) flags[s] &= ~PG.anonExclusive
          } else if (this.dstShmem) dst.rss.shmem++
          else dst.rss.file++
        } else if (reservedVerbatim) {
          if (events) k.setPte(dst, dleaf, i, base + i * PAGE_SIZE, pte)
          else dptes[i] = pte
          continue
        }
        if (cow && (low & PTE_RW) !== 0) {
          const wp = pte - PTE_RW
          if (events) k.setPte(src, leaf, i, base + i * PAGE_SIZE, wp)
          else ptes[i] = wp
          child = wp
        }
        const cl = (child & 0xfff)
        child = child - cl + (cl & ~childClear)
      } else {
        // A swap entry (migration entries never outlive the operation that made them).
        k.swap.dup((pte - low) / 4096)
        dst.rss.swap++
        if ((low & SWP_EXCLUSIVE) !== 0) {
          child = pte - SWP_EXCLUSIVE
          if (events) k.setPte(src, leaf, i, base + i * PAGE_SIZE, child)
          else ptes[i] = child
        }
      }
      if (events) k.setPte(dst, dleaf, i, base + i * PAGE_SIZE, child)
      else dptes[i] = child
    }
  }
}

/** exit_mmap(): zap every VMA, free the page tables, unlink the VMAs, free the pgd. */
export function exitMm (k: KernelState, mm: Mm, zap: (vma: Vma) => void): void {
  for (const vma of mm.vmas) zap(vma)
  const vmas = mm.vmas.slice()
  for (const vma of vmas) {
    unlinkVma(k, vma)
    k.emitVma('vma.removed', vma)
  }
  mm.pgtable.destroy()
  k.processes.delete(mm.pid)
  if (k.events.active) k.events.emit({ type: 'process.exited', cause: k.cause, pid: mm.pid })
}
