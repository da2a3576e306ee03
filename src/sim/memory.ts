import { PAGE_SIZE, pageDown } from './constants.js'
import type { AddressSpace } from './address-space.js'
import type { FaultPath } from './events.js'
import { PG, ZERO_PFN, fileMapping } from './frames.js'
import type { KernelState } from './kernel-state.js'
import type { Mm } from './mm.js'
import { pteIndex, type PteTable } from './page-table.js'
import { maybeMkwrite, vmPageProt } from './prot.js'
import {
  PTE_ACCESSED, PTE_DIRTY, PTE_NX, PTE_PRESENT, PTE_RW, PTE_SPECIAL, SWP_EXCLUSIVE, makePte, pteBits, pteDirty, pteIsSwap,
  pteMapped, ptePfn, pteWrite, pteYoung, setBits, swpOffset
} from './pte.js'
import { mlockUpdate } from './rmap.js'
import { lruAddActive, markPageAccessed } from './lru.js'
import { deleteFromSwapCache, freeSwapAndCache } from './swap-cache.js'
import { VM, VM_ACCESS_FLAGS, type Vma } from './vma.js'

/** Faults and PTE teardown: mm/memory.c (handle_mm_fault and its helpers, zap_pte_range). */

export type AccessOp = 'read' | 'write' | 'exec'

export interface FaultResult {
  path: FaultPath
  /** Set when the access kills the process (the state is unchanged). */
  signal?: 'SIGSEGV' | 'SIGBUS'
  siCode?: 'SEGV_MAPERR' | 'SEGV_ACCERR' | 'BUS_ADRERR'
  reason?: string
  vma?: Vma
  /** The page's address (the access address rounded down). */
  page: number
  pteBefore: number
  pteAfter: number
  /** The frame mapped after the access. */
  pfn?: number
  /** For copies: the frame copied from. */
  copiedFrom?: number
}

// ---------------------------------------------------------------- page cache

/**
 * filemap_fault() / shmem_fault(): the page-cache page at `index`, read in (or, for shmem, allocated
 * zeroed, or read back from swap by shmem_swapin_folio(), which frees the slot) when not cached. The
 * cache holds one reference.
 */
export function findOrReadPage (k: KernelState, space: AddressSpace, index: number): number {
  const cached = space.cache.get(index)
  if (cached !== undefined) return cached
  const slot = space.swapped.get(index)
  if (slot !== undefined) {
    space.swapped.delete(index)
    k.swap.put(slot)
  }
  const pfn = k.allocFrame()
  const s = pfn - ZERO_PFN
  k.frames.mapping[s] = fileMapping(space.id)
  k.frames.index[s] = index
  k.frames.flags[s] = PG.uptodate | PG.lru | (space.kind === 'shmem' ? PG.swapbacked : 0)
  space.cache.set(index, pfn)
  return pfn
}

/** Frames a fault at `addr` may allocate: missing page tables plus one page (checked up front). */
export function faultFramesNeeded (mm: Mm, addr: number): number {
  return mm.pgtable.tablesNeeded(addr, addr + PAGE_SIZE) + 2
}

// ---------------------------------------------------------------- the fault

/** arch/x86/mm/fault.c access_error(): does the VMA allow this kind of access? */
export function accessError (vma: Vma, op: AccessOp, readFlags: number): string | null {
  if (op === 'write') return (vma.flags & VM.WRITE) !== 0 ? null : 'write to a mapping without PROT_WRITE'
  if (op === 'exec') return (vma.flags & VM.EXEC) !== 0 ? null : 'instruction fetch from a mapping without PROT_EXEC'
  if ((vma.flags & readFlags) !== 0) return null
  return (vma.flags & VM_ACCESS_FLAGS) === 0 ? 'read of a PROT_NONE mapping' : 'read of a mapping this kernel does not let a read fault map (write-only)'
}

/**
 * What an access by `mm` at `addr` will do, decided before anything changes: nothing to fault (the
 * MMU completes it), a signal (the process would die; nothing changes), or a fault in `vma`.
 */
type FaultAt = { mm: Mm, addr: number, page: number, pteBefore: number }
export type FaultCheck =
  | FaultAt & { kind: 'hardware' }
  | FaultAt & { kind: 'signal', signal: 'SIGSEGV' | 'SIGBUS', siCode: 'SEGV_MAPERR' | 'SEGV_ACCERR' | 'BUS_ADRERR', reason: string, vma?: Vma }
  | FaultAt & { kind: 'fault', vma: Vma }

/**
 * do_user_addr_fault()'s decisions up to handle_mm_fault(): find the VMA, check access, and make
 * sure of the frames the fault may need (LimitError otherwise).
 */
export function checkFault (k: KernelState, mm: Mm, addr: number, op: AccessOp): FaultCheck {
  const page = pageDown(addr)
  const pteBefore = mm.pgtable.get(page)
  if (hardwareAllows(pteBefore, op)) return { kind: 'hardware', mm, addr, page, pteBefore }
  const vma = mm.vmaAt(addr)
  if (vma === undefined) {
    return { kind: 'signal', mm, addr, page, pteBefore, signal: 'SIGSEGV', siCode: 'SEGV_MAPERR', reason: 'no VMA contains the address' }
  }
  // 2.6.11: a fetch from a not-present page is a read fault (case 0); from a present one, case 1.
  const asRead = op === 'exec' && k.model.execFaultsAsRead && (pteBefore & PTE_PRESENT) === 0
  const denied = accessError(vma, asRead ? 'read' : op, k.model.readAccessFlags)
  if (denied !== null) return { kind: 'signal', mm, addr, page, pteBefore, signal: 'SIGSEGV', siCode: 'SEGV_ACCERR', reason: denied, vma }
  if (vma.mapping !== null && pteBefore === 0 && vma.linearPageIndex(page) >= vma.mapping.pages) {
    return { kind: 'signal', mm, addr, page, pteBefore, signal: 'SIGBUS', siCode: 'BUS_ADRERR', reason: `page ${vma.linearPageIndex(page)} is past the end of ${vma.mapping.name} (${vma.mapping.pages} pages)`, vma }
  }
  k.frames.ensureAvailable(faultFramesNeeded(mm, page) - (pteBefore !== 0 ? mm.pgtable.tablesNeeded(page, page + PAGE_SIZE) : 0), 'this fault')
  return { kind: 'fault', mm, addr, page, pteBefore, vma }
}

/**
 * struct vm_fault: one fault as the handlers see it. The handlers fill in the path they took and,
 * for a copy, the frame they copied from; handleMmFault then fills in the outcome and returns it as
 * the fault's result (one object per fault: this is every access's path).
 */
export interface VmFault extends FaultResult {
  readonly k: KernelState
  readonly mm: Mm
  readonly vma: Vma
  /** vmf->address: the faulting page's address. */
  readonly address: number
  /** FAULT_FLAG_WRITE. */
  readonly write: boolean
  /** vmf->pte: the PTE table and the entry's slot in it. */
  readonly leaf: PteTable
  readonly slot: number
  /** A swap-in made a new anonymous folio (folio_add_new_anon_rmap + folio_add_lru, not _vma). */
  newFromSwap: boolean
}

/**
 * handle_mm_fault() -> handle_pte_fault() for an access checkFault() approved; a signal or a
 * hardware-completed access comes back as it is (the MMU sets accessed, and dirty on a write).
 */
export function handleMmFault (k: KernelState, check: FaultCheck, op: AccessOp): FaultResult {
  const { mm, page, pteBefore: before } = check
  if (check.kind === 'signal') {
    return { path: check.signal === 'SIGBUS' ? 'sigbus' : 'sigsegv', signal: check.signal, siCode: check.siCode, reason: check.reason, vma: check.vma, page, pteBefore: before, pteAfter: before }
  }
  if (check.kind === 'hardware') {
    const leaf = mm.pgtable.leaf(page) as PteTable
    k.setPte(mm, leaf, pteIndex(page), page, setBits(before, PTE_ACCESSED | (op === 'write' ? PTE_DIRTY : 0)))
    const after = leaf.ptes[pteIndex(page)]
    return { path: 'none', vma: mm.vmaAt(page), page, pteBefore: before, pteAfter: after, pfn: ptePfn(after) }
  }
  const vmf: VmFault = {
    k,
    mm,
    vma: check.vma,
    address: page,
    write: op === 'write',
    leaf: mm.pgtable.leafAlloc(page),
    slot: pteIndex(page),
    path: 'none',
    page,
    pteBefore: before,
    pteAfter: before,
    pfn: undefined,
    copiedFrom: undefined,
    newFromSwap: false
  }
  if (before === 0) {
    if (vmf.vma.mapping === null) doAnonymousPage(vmf)
    else doFault(vmf, vmf.vma.mapping)
  } else if (pteIsSwap(before)) {
    doSwapPage(vmf)
  } else if (vmf.write && !pteWrite(before)) {
    doWpPage(vmf)
  } else {
    // A present entry the MMU refused for another reason (NX): spurious here, fixed up as accessed.
    k.setPte(mm, vmf.leaf, vmf.slot, page, setBits(before, PTE_ACCESSED | (vmf.write ? PTE_DIRTY : 0)))
  }
  const after = vmf.leaf.ptes[vmf.slot]
  vmf.pteAfter = after
  vmf.pfn = pteMapped(after) ? ptePfn(after) : undefined
  if ((vmf.vma.flags & VM.LOCKED) !== 0 && k.model.tracksMlock) mlockFaulted(vmf)
  if (op === 'exec' && !hardwareAllows(after, op)) {
    // 2.6.11 do_page_fault(): the refetch finds the page present but NX: case 1 (read, present) -> bad_area.
    vmf.signal = 'SIGSEGV'
    vmf.siCode = 'SEGV_ACCERR'
    vmf.reason = 'instruction fetch: 2.6.11 faulted the page in as a read (error_code & 3 == 0), then the refetch hit the NX PTE (case 1: read, present) and took SIGSEGV'
  }
  return vmf
}

/**
 * A fault in a VM_LOCKED VMA: the page it mapped is mlocked (mlock_new_folio / mlock_vma_folio from
 * the rmap add), and a page it replaced lost a locked mapping (munlock_vma_folio).
 */
function mlockFaulted (vmf: VmFault): void {
  const { k } = vmf
  // Only a fault that adds a mapping mlocks (mlock_vma_folio at the end of __folio_add_anon_rmap /
  // __folio_add_file_rmap, mlock_new_folio for a new folio): wp_page_reuse() and wp_page_shared() keep
  // the mapping the PTE already had, and the folio's PG_mlocked as it was (recorded: l-m9).
  if (vmf.path === 'cow_reuse' || vmf.path === 'shared_write_notify' || vmf.path === 'none') return
  // A folio a swap-in just made anonymous reaches the LRU through folio_add_lru(), not
  // folio_add_lru_vma(), and folio_add_new_anon_rmap() does not mlock: Linux leaves it unmlocked
  // (recorded: l-m5). A COW copy made in the same fault is mlocked as any new page.
  const fromSwap = vmf.newFromSwap && vmf.copiedFrom === undefined
  if (vmf.pfn !== undefined && vmf.pfn !== ZERO_PFN && !fromSwap) k.setPageFlags(vmf.pfn, PG.mlocked)
  if (vmf.copiedFrom !== undefined) mlockUpdate(k, vmf.copiedFrom)
}

/** Whether the MMU completes the access without a fault: present, and writable / executable as needed. */
function hardwareAllows (pte: number, op: AccessOp): boolean {
  const bits = (pte & 0xfff)
  if ((bits & PTE_PRESENT) === 0) return false
  if (op === 'write') return (bits & PTE_RW) !== 0
  if (op === 'exec') return (bits & PTE_NX) === 0
  return true
}

/** set_pte_at() of the faulting entry. */
const setFaultPte = (vmf: VmFault, value: number): void => { vmf.k.setPte(vmf.mm, vmf.leaf, vmf.slot, vmf.address, value) }

/** A brand-new anonymous page for the faulting address (folio_prealloc + folio_add_new_anon_rmap). */
function newAnonPage (vmf: VmFault): number {
  const { k, vma } = vmf
  const av = k.model.anonVmaPrepare(k, vma)
  const pfn = k.allocFrame()
  k.setPageFlags(pfn, PG.uptodate | PG.lru | PG.swapbacked | (k.model.tracksAnonExclusive ? PG.anonExclusive : 0))
  lruAddActive(k, pfn)
  k.setAnonMapping(pfn, k.model.newPageAnonVma(vma, true) ?? av, vma.linearPageIndex(vmf.address))
  k.mapPage(pfn)
  return pfn
}

/** do_anonymous_page(): a read maps the zero page read-only; a write gets a new zeroed page. */
function doAnonymousPage (vmf: VmFault): void {
  const { k, mm, vma } = vmf
  const prot = vmPageProt(k.model, vma)
  if (!vmf.write) {
    // my_zero_pfn(): not refcounted, not mapcounted; the VMA still gets no anon_vma.
    setFaultPte(vmf, makePte(ZERO_PFN, (prot & ~PTE_RW) | (k.model.zeroPageSpecial ? PTE_SPECIAL : 0)))
    vmf.path = 'zero_page'
    return
  }
  const pfn = newAnonPage(vmf)
  if (k.model.newAnonPageReferenced) k.setPageFlags(pfn, PG.referenced)
  setFaultPte(vmf, makePte(pfn, prot | PTE_DIRTY | maybeMkwrite(vma)))
  mm.rss.anon++
  vmf.path = 'anon_alloc'
}

function rssFileCounter (mm: Mm, space: AddressSpace, delta: number): void {
  if (space.kind === 'shmem') mm.rss.shmem += delta
  else mm.rss.file += delta
}

/**
 * do_fault(): do_read_fault maps the page-cache page; do_cow_fault gives a private writer an anonymous
 * copy (the cache page is read in but not mapped); do_shared_fault maps the cache page writable, dirty
 * (the page too in 6.18; in 2.6.11 only the PTE).
 */
function doFault (vmf: VmFault, space: AddressSpace): void {
  const { k, mm, vma } = vmf
  const prot = vmPageProt(k.model, vma)
  const cachePfn = findOrReadPage(k, space, vma.linearPageIndex(vmf.address))
  // 2.6.11 filemap_nopage() / shmem_nopage(): the page found is marked accessed, whatever comes next.
  markPageAccessed(k, cachePfn)
  if (vmf.write && !vma.isShared) {
    const pfn = newAnonPage(vmf)
    setFaultPte(vmf, makePte(pfn, prot | PTE_DIRTY | maybeMkwrite(vma)))
    mm.rss.anon++
    vmf.path = 'private_file_cow'
    vmf.copiedFrom = cachePfn
    return
  }
  k.getPage(cachePfn)
  k.mapPage(cachePfn)
  rssFileCounter(mm, space, 1)
  if (vmf.write) {
    if (k.model.sharedWriteFaultDirtiesPage) k.setPageFlags(cachePfn, PG.dirty)
    setFaultPte(vmf, makePte(cachePfn, prot | PTE_DIRTY | maybeMkwrite(vma)))
    vmf.path = 'shared_write'
  } else {
    setFaultPte(vmf, makePte(cachePfn, prot))
    vmf.path = 'file_read'
  }
}

/**
 * do_wp_page(): a write to a present, write-protected PTE. Shared mappings just become writable
 * (wp_page_shared); the zero page and pages another process may see are copied (wp_page_copy);
 * an anonymous page this process alone holds is reused in place (wp_page_reuse).
 */
function doWpPage (vmf: VmFault): void {
  const { k, vma } = vmf
  const pte = vmf.leaf.ptes[vmf.slot]
  const old = ptePfn(pte)
  if (vma.isShared) {
    if (old !== ZERO_PFN) k.setPageFlags(old, PG.dirty)
    setFaultPte(vmf, setBits(pte, PTE_RW | PTE_DIRTY | PTE_ACCESSED))
    vmf.path = 'shared_write_notify'
    return
  }
  if (old !== ZERO_PFN && k.isAnonPage(old) && k.model.wpTryReuseAnon(k, old, vma)) {
    setFaultPte(vmf, setBits(pte, PTE_RW | PTE_DIRTY | PTE_ACCESSED))
    vmf.path = 'cow_reuse'
    return
  }
  wpPageCopy(vmf, old)
}

/** wp_page_copy(): a new anonymous page (zeroed for the zero page, else a copy) replaces the old one. */
function wpPageCopy (vmf: VmFault, old: number): void {
  const { k, mm, vma } = vmf
  const pfn = newAnonPage(vmf)
  const prot = vmPageProt(k.model, vma)
  setFaultPte(vmf, makePte(pfn, prot | PTE_DIRTY | maybeMkwrite(vma)))
  if (old === ZERO_PFN) {
    vmf.path = 'zero_page_cow'
    mm.rss.anon++
    return
  }
  vmf.copiedFrom = old
  if (k.isAnonPage(old)) {
    vmf.path = 'cow_copy'
  } else {
    vmf.path = 'private_file_cow'
    rssFileCounter(mm, spaceOf(k, old), -1)
    mm.rss.anon++
  }
  k.unmapPage(old)
  k.putPage(old)
}

/** The address_space of a page-cache page. */
export function spaceOf (k: KernelState, pfn: number): AddressSpace {
  const space = k.spaces.get(k.pageMapping(pfn) >>> 1)
  if (space === undefined) throw new Error(`page ${pfn} has no address_space`)
  return space
}

/**
 * do_swap_page(): bring the page back from the swap cache or from swap, map it, drop the PTE's swap
 * reference. Modern kernels map it writable at once when the swap entry says it was exclusive and
 * free the swap slot on a write (should_try_to_free_swap); 2.6.11 maps it read-only and lets
 * do_wp_page decide.
 */
function doSwapPage (vmf: VmFault): void {
  const { k, mm, vma } = vmf
  const entry = vmf.leaf.ptes[vmf.slot]
  const swapSlot = swpOffset(entry)
  let pfn = k.swap.cache.get(swapSlot)
  if (pfn === undefined && k.model.swapinBypassesCache && k.swap.count(swapSlot) === 1) {
    swapInBypassingCache(vmf, swapSlot)
    return
  }
  if (pfn === undefined) {
    // swapin_readahead(): a new frame, read from swap, in the swap cache (the allocation's reference).
    pfn = k.allocFrame()
    k.setPageFlags(pfn, PG.uptodate | PG.lru | PG.swapbacked | PG.swapcache)
    lruAddActive(k, pfn)
    k.swap.addToCache(swapSlot, pfn)
  }
  markPageAccessed(k, pfn)
  const isNew = k.pageMapping(pfn) === 0
  vmf.newFromSwap = isNew
  k.getPage(pfn)
  const firstMap = k.mapcount(pfn) === 0
  k.mapPage(pfn)
  k.swap.put(swapSlot)
  mm.rss.swap--
  mm.rss.anon++
  let bits = vmPageProt(k.model, vma)
  let writeDone = false
  if (k.model.tracksAnonExclusive) {
    const exclusive = (pteBits(entry) & SWP_EXCLUSIVE) !== 0
    // should_try_to_free_swap(): in a VM_LOCKED VMA or for an mlocked page always, else for a write
    // that is likely the only user; folio_free_swap() succeeds once no swap PTE uses the slot.
    const tryFree = (vma.flags & VM.LOCKED) !== 0 || (k.pageFlags(pfn) & PG.mlocked) !== 0 || (vmf.write && k.refcount(pfn) === 2)
    if (tryFree && k.swap.count(swapSlot) === 0) {
      deleteFromSwapCache(k, pfn)
      k.setPageFlags(pfn, PG.dirty)
    }
    if (exclusive || k.refcount(pfn) === 1) {
      if (vma.flags & VM.WRITE) {
        bits |= PTE_RW
        if (vmf.write) { bits |= PTE_DIRTY; writeDone = true }
      }
      k.setPageFlags(pfn, PG.anonExclusive)
    }
    if (isNew) k.setAnonMapping(pfn, k.model.newPageAnonVma(vma, exclusive || k.refcount(pfn) === 1), vma.linearPageIndex(vmf.address))
  } else if (firstMap) {
    k.setAnonMapping(pfn, k.model.newPageAnonVma(vma, true), vma.linearPageIndex(vmf.address))
  }
  setFaultPte(vmf, makePte(pfn, bits))
  vmf.path = 'swap_in'
  if (vmf.write && !writeDone) {
    // The write goes on as a write-protect fault on the entry just made; the path stays swap_in.
    const wp: VmFault = { ...vmf, path: 'none', copiedFrom: undefined, newFromSwap: false }
    doWpPage(wp)
    if (wp.copiedFrom !== undefined) vmf.copiedFrom = wp.copiedFrom
  }
}

/**
 * 6.18 do_swap_page() on a synchronous swap device (SWP_SYNCHRONOUS_IO: zram) when this PTE is the
 * slot's only user (__swap_count == 1): the page is read straight into a new folio that never enters
 * the swap cache, so it is certainly exclusive (mapped writable where the VMA allows), and
 * swap_free() releases the slot.
 */
function swapInBypassingCache (vmf: VmFault, swapSlot: number): void {
  const { k, mm, vma } = vmf
  vmf.newFromSwap = true
  const pfn = k.allocFrame()
  k.setPageFlags(pfn, PG.uptodate | PG.lru | PG.swapbacked | PG.anonExclusive)
  k.setAnonMapping(pfn, k.model.newPageAnonVma(vma, true), vma.linearPageIndex(vmf.address))
  k.mapPage(pfn)
  k.swap.put(swapSlot)
  mm.rss.swap--
  mm.rss.anon++
  let bits = vmPageProt(k.model, vma)
  if (vma.flags & VM.WRITE) bits |= PTE_RW | (vmf.write ? PTE_DIRTY : 0)
  setFaultPte(vmf, makePte(pfn, bits))
  vmf.path = 'swap_in'
}

// ---------------------------------------------------------------- teardown

/**
 * zap_pte_range() over [lo, hi) of one VMA: every PTE is cleared; a mapped page loses a mapcount and a
 * reference (a dirty PTE dirties a file page first), a swap entry its swap reference.
 */
export function zapRange (k: KernelState, mm: Mm, vma: Vma, lo: number, hi: number): void {
  // folio_remove_rmap_ptes() -> munlock_vma_folio(): a page unmapped from a VM_LOCKED VMA is munlocked
  // unless another locked VMA still maps it.
  const locked = (vma.flags & VM.LOCKED) !== 0 && k.model.tracksMlock
  mm.pgtable.forEachLeaf(lo, hi, (leaf, from, to, base) => {
    const ptes = leaf.ptes
    for (let i = from; i < to; i++) {
      const pte = ptes[i]
      if (pte === 0) continue
      const addr = base + i * PAGE_SIZE
      k.setPte(mm, leaf, i, addr, 0)
      if (pteMapped(pte)) {
        const pfn = ptePfn(pte)
        if (pfn === ZERO_PFN) continue
        const anon = k.isAnonPage(pfn)
        if (anon) {
          if (k.model.zapDirtiesAnonPages && pteDirty(pte)) k.setPageFlags(pfn, PG.dirty)
          mm.rss.anon--
        } else {
          if (pteDirty(pte)) k.setPageFlags(pfn, PG.dirty)
          if (pteYoung(pte)) markPageAccessed(k, pfn)
          rssFileCounter(mm, spaceOf(k, pfn), -1)
        }
        k.unmapPage(pfn)
        k.putPage(pfn)
        if (locked) mlockUpdate(k, pfn)
        // free_pages_and_swap_cache() -> free_swap_cache(): an anonymous page left only in the swap
        // cache, with no swap entry using its slot, leaves the cache (and is freed).
        if (anon && k.refcount(pfn) > 0 && k.mapcount(pfn) === 0 && (k.pageFlags(pfn) & PG.swapcache) !== 0) {
          const slot = k.swap.slotOfPfn.get(pfn)
          if (slot !== undefined && k.swap.count(slot) === 0) deleteFromSwapCache(k, pfn)
        }
      } else if (pteIsSwap(pte)) {
        mm.rss.swap--
        freeSwapAndCache(k, swpOffset(pte))
      }
    }
  })
}
