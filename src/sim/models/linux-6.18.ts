import type { AnonVma, AnonVmaChain } from '../anon-vma.js'
import { PG, SIM_PAGE_FLAGS } from '../frames.js'
import type { KernelState } from '../kernel-state.js'
import { deleteFromSwapCache } from '../swap-cache.js'
import { VM, VM_ACCESS_FLAGS, type Vma } from '../vma.js'
import { MMAP_MIN_ADDR, PAGE_SIZE, TASK_SIZE } from '../constants.js'
import { findMergeableAnonVma } from './anon-vma-common.js'
import type { KernelModel } from './kernel-model.js'
import { X86_64_PTE } from '../pte.js'
import { IntervalTree } from '../interval-tree.js'
import { getUnmappedAreaModern } from '../unmapped-area.js'

/**
 * anon_vma_chain_link(): a new AVC in the anon_vma's interval tree, keyed by the VMA's pgoff range.
 * `vma.chain` is kept oldest first, i.e. the kernel's same_vma list (which list_add fills newest
 * first) read in reverse.
 */
function chainLink (vma: Vma, av: AnonVma): void {
  const avc: AnonVmaChain = { vma, anonVma: av, node: null }
  avc.node = av.tree.insert(avc, vma.pgoff, vma.lastPgoff)
  vma.chain.push(avc)
}

/** put_anon_vma() / __put_anon_vma(): freeing a non-root anon_vma drops its reference on the root. */
function putAnonVma (k: KernelState, av: AnonVma): void {
  if (--av.refcount > 0) return
  k.freeAnonVma(av)
  const root = av.root
  if (root !== av && --root.refcount === 0) k.freeAnonVma(root)
}

/** vma_is_fork_child(): a VMA cloned from a parent (chain not singular) is not merged, to keep root-lock contention low. */
const isForkChild = (v: Vma | null): boolean => v !== null && v.anonVma !== null && v.chain.length !== 1

/**
 * Modern Linux (6.18): anon_vma_chain, per-anon_vma interval trees, AnonExclusive-based COW reuse,
 * and fork skipping VMAs without an anon_vma (mm/rmap.c, mm/memory.c, mm/vma.c).
 */
export const linux618: KernelModel = {
  version: '6.18',
  countBias: 0,
  immapName: 'i_mmap interval tree (rb_root_cached)',
  anonName: 'anon_vma interval tree of anon_vma_chains (anon_vma->rb_root)',
  zeroPageSpecial: true,
  sharedAnonPgoffZero: true,
  writeNotify: true,
  unmapRefusesYoung: false,
  tracksAnonExclusive: true,
  mprotectUpgradesWrite: true,
  referencedCountsPageFlag: false,
  missingFeatures: {},
  tracksMlock: true,
  // mm/gup.c populate_vma_page_range(): FOLL_WRITE when (vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE.
  mlockFaultsWrite: (vma: Vma) => (vma.flags & (VM.WRITE | VM.SHARED)) === VM.WRITE,
  mlockMerges: true,
  // mm/vma.c vms_gather_munmap_vmas(): __split_vma(vmi, vma, start, 1); __split_vma(vmi, next, end, 0).
  munmapKeepsOriginalOutside: false,
  // mm/memory.c do_shared_fault() -> fault_dirty_shared_page() -> folio_mark_dirty().
  sharedWriteFaultDirtiesPage: true,
  tracksPageActivity: false,
  writebackCleansPtes: true,
  // mm/rmap.c folio_referenced_one(): if (vma->vm_flags & VM_LOCKED) { ... return false; /* To break the loop */ }
  referencedStopsAtLockedMapping: true,
  referencedStopsAtLockedSharedVma: false,
  mprotectPopulatesLocked: true,
  // mm/memory.c do_swap_page(): SWP_SYNCHRONOUS_IO && __swap_count(entry) == 1 skips the swap cache.
  swapinBypassesCache: true,
  mprotectUnaccountsUntouchedAnon: true,
  mremapMovesMultipleVmas: true,
  mmapMinAddr: MMAP_MIN_ADDR,
  taskSize: TASK_SIZE,
  pteLayout: X86_64_PTE,
  pageFlags: SIM_PAGE_FLAGS,
  zeroPageFlags: PG.reserved | PG.uptodate,
  // mm/memory.c zap_present_folio_ptes(): only a file folio is dirtied from the PTE.
  zapDirtiesAnonPages: false,
  mlockForcesPopulate: true,
  gupSkipsUntouchedAnon: false,
  fixedNoreplace: 'native',
  // mm_struct rss_stat: MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES.
  rssView: (rss) => ({ ...rss }),
  // arch/x86/mm/fault.c access_error(): X86_PF_INSTR needs VM_EXEC.
  execFaultsAsRead: false,
  // arch/x86/mm/fault.c access_error(): a read needs only vma_is_accessible().
  readAccessFlags: VM_ACCESS_FLAGS,
  newAnonPageReferenced: false,
  mremapExpandMerges: true,
  // mm/mmap.c round_hint_to_min(): hint &= PAGE_MASK; a hint below mmap_min_addr becomes mmap_min_addr.
  roundHint (hint: number): number {
    const h = hint - (hint % PAGE_SIZE)
    return h !== 0 && h < MMAP_MIN_ADDR ? MMAP_MIN_ADDR : h
  },

  // mm/interval_tree.c: i_mmap is an augmented rbtree (rb_root_cached).
  newImmap: () => new IntervalTree<Vma>(),

  describeAnonWalk: (av, index) => `anon_vma #${av.id} (root #${av.root.id}): the AVCs in its interval tree whose pgoff range holds index ${index}`,
  checkAnonLinks (k, vma, fail) {
    for (const avc of vma.chain) {
      if (!k.anonVmas.has(avc.anonVma.id)) fail(`${vma} is chained to freed anon_vma #${avc.anonVma.id}`)
      if (avc.node === null || avc.node.start !== vma.pgoff || avc.node.last !== vma.lastPgoff) fail(`${vma}: AVC to anon_vma #${avc.anonVma.id} is not in its tree or keyed wrong`)
    }
    if (vma.anonVma !== null && !vma.chain.some((c) => c.anonVma === vma.anonVma)) fail(`${vma} has no AVC for its own anon_vma #${vma.anonVma.id}`)
    if (vma.anonVma === null && vma.chain.length > 0) fail(`${vma} has AVCs but no anon_vma`)
  },

  getUnmappedArea: getUnmappedAreaModern,
  noteSearchedArea: () => {},
  noteUnmap: () => {},
  initMm: () => {},

  // mm/rmap.c __anon_vma_prepare(): reuse a neighbour's anon_vma (find_mergeable_anon_vma, whose
  // reusable_anon_vma() wants a singular chain) or allocate a new root with its self-parent link.
  anonVmaPrepare (k: KernelState, vma: Vma): AnonVma {
    if (vma.anonVma !== null) return vma.anonVma
    let av = findMergeableAnonVma(vma, (near) => near.chain.length === 1)
    if (av === null) {
      av = k.newAnonVma()
      av.refcount = 1
      av.numChildren++
    }
    vma.anonVma = av
    chainLink(vma, av)
    av.numActiveVmas++
    return av
  },

  // mm/rmap.c anon_vma_fork(): clone the parent's chain, then give the child its own anon_vma (unless
  // anon_vma_clone found a reusable one), whose root is the parent's root.
  anonVmaFork (k: KernelState, child: Vma, parent: Vma): void {
    if (parent.anonVma === null) return
    child.anonVma = null
    linux618.anonVmaClone(k, child, parent)
    if (child.anonVma !== null) return
    const av = k.newAnonVma()
    av.refcount = 1
    av.numActiveVmas++
    av.root = parent.anonVma.root
    av.parent = parent.anonVma
    av.root.refcount++
    child.anonVma = av
    chainLink(child, av)
    av.parent.numChildren++
  },

  // mm/rmap.c anon_vma_clone(): link dst to every anon_vma of src, oldest first; a child with no
  // anon_vma yet may reuse one that has no VMAs left and fewer than two children.
  anonVmaClone (_k: KernelState, dst: Vma, src: Vma): void {
    for (const pavc of src.chain) {
      const av = pavc.anonVma
      chainLink(dst, av)
      if (dst.anonVma === null && src.anonVma !== null && av.numChildren < 2 && av.numActiveVmas === 0) dst.anonVma = av
    }
    if (dst.anonVma !== null) dst.anonVma.numActiveVmas++
  },

  // mm/rmap.c unlink_anon_vmas(): newest AVC first; anon_vmas left with an empty tree are put.
  unlinkAnonVmas (k: KernelState, vma: Vma): void {
    const empty: AnonVma[] = []
    for (let i = vma.chain.length - 1; i >= 0; i--) {
      const avc = vma.chain[i]
      const av = avc.anonVma
      if (avc.node !== null) av.tree.remove(avc.node)
      avc.node = null
      if (av.tree.isEmpty()) {
        av.parent.numChildren--
        empty.push(av)
      }
    }
    vma.chain.length = 0
    if (vma.anonVma !== null) vma.anonVma.numActiveVmas--
    for (const av of empty) putAnonVma(k, av)
  },

  // anon_vma_interval_tree_pre_update_vma / post_update_vma.
  beginVmaUpdate (vma: Vma): (() => void) | undefined {
    if (vma.chain.length === 0) return undefined
    for (const avc of vma.chain) if (avc.node !== null) avc.anonVma.tree.remove(avc.node)
    return () => {
      for (const avc of vma.chain) avc.node = avc.anonVma.tree.insert(avc, vma.pgoff, vma.lastPgoff)
    }
  },

  // mm/vma.c is_mergeable_anon_vma().
  isMergeableAnonVma (tgt: Vma, srcAnon: AnonVma | null, src: Vma | null, copiedFrom: Vma | null): boolean {
    if (tgt.anonVma === null && srcAnon !== null) return !isForkChild(src) && !isForkChild(copiedFrom)
    if (tgt.anonVma !== null && srcAnon === null) return !isForkChild(tgt)
    return srcAnon === tgt.anonVma
  },

  // mm/rmap.c __folio_set_anon(): a page that is not exclusive must use the oldest anon_vma (the root).
  newPageAnonVma (vma: Vma, exclusive: boolean): AnonVma {
    if (vma.anonVma === null) throw new Error('__folio_set_anon without anon_vma')
    return exclusive ? vma.anonVma : vma.anonVma.root
  },

  // mm/rmap.c rmap_walk_anon(): anon_vma_interval_tree_foreach over folio_anon_vma(folio)->rb_root.
  anonWalkVmas (av: AnonVma, index: number): Vma[] {
    const out: Vma[] = []
    av.tree.forEachOverlap(index, index, (avc) => { out.push(avc.vma) })
    return out
  },

  // mm/memory.c vma_needs_copy(): without an anon_vma the child can fault everything back in.
  forkCopiesPtes: (vma: Vma) => vma.anonVma !== null,

  // mm/memory.c do_wp_page(): PageAnonExclusive, or wp_can_reuse_anon_folio(): the only reference
  // (after dropping an unused swap-cache entry) is ours; then folio_move_anon_rmap() to this VMA.
  wpTryReuseAnon (k: KernelState, pfn: number, vma: Vma): boolean {
    if (k.pageFlags(pfn) & PG.anonExclusive) return true
    const swapcache = (k.pageFlags(pfn) & PG.swapcache) !== 0 ? 1 : 0
    if (k.refcount(pfn) > 3 || k.refcount(pfn) > 1 + swapcache) return false
    if (swapcache) {
      // folio_free_swap(): only when no swap PTE still refers to the slot.
      const slot = k.swap.slotOfPfn.get(pfn)
      if (slot !== undefined && k.swap.count(slot) === 0) {
        deleteFromSwapCache(k, pfn)
        k.setPageFlags(pfn, PG.dirty)
      }
    }
    if (k.refcount(pfn) !== 1) return false
    if (vma.anonVma !== null) k.setAnonMapping(pfn, vma.anonVma, k.pageIndex(pfn))
    k.setPageFlags(pfn, PG.anonExclusive)
    return true
  }
}
