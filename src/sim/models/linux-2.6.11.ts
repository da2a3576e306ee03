import type { AnonVma } from '../anon-vma.js'
import { PAGE_FLAGS_2611, PG } from '../frames.js'
import type { KernelState } from '../kernel-state.js'
import { VM, type Vma } from '../vma.js'
import { PAGE_SIZE } from '../constants.js'
import { findMergeableAnonVma } from './anon-vma-common.js'
import type { KernelModel } from './kernel-model.js'
import { X86_64_2611_PTE } from '../pte.js'
import { PrioTree } from '../prio-tree.js'
import { TASK_UNMAPPED_BASE_2611, getUnmappedArea2611 } from '../unmapped-area.js'

/** anon_vma_link(): 2.6.11 puts the VMA at the head of the family's list (list_add). */
function link (vma: Vma, av: AnonVma): void {
  vma.anonVma = av
  av.vmas.unshift(vma)
}

/**
 * Linux 2.6.11: the object-based rmap of the diagram. One anon_vma per fork family holds a list of
 * every VMA of the family; a walk visits them all (mm/rmap.c).
 */
export const linux2611: KernelModel = {
  version: '2.6.11',
  countBias: -1,
  immapName: 'i_mmap priority tree (prio_tree_root)',
  anonName: 'anon_vma list (anon_vma->head)',
  zeroPageSpecial: false,
  sharedAnonPgoffZero: false,
  writeNotify: false,
  unmapRefusesYoung: true,
  tracksAnonExclusive: false,
  mprotectUpgradesWrite: false,
  referencedCountsPageFlag: true,
  // man 2 madvise: MADV_DONTFORK and MADV_DOFORK since 2.6.16, MADV_WIPEONFORK and MADV_KEEPONFORK
  // since 4.14, MADV_POPULATE_READ and MADV_POPULATE_WRITE since 5.14.
  missingFeatures: {
    MADV_DONTFORK: '2.6.16',
    MADV_DOFORK: '2.6.16',
    MADV_WIPEONFORK: '4.14',
    MADV_KEEPONFORK: '4.14',
    MADV_POPULATE_READ: '5.14',
    MADV_POPULATE_WRITE: '5.14',
    MADV_FREE: '4.5',
    MADV_PAGEOUT: '5.4',
    // page_mkclean() and write-notify of shared mappings: 2.6.19 (writeback there never touches PTEs).
    page_mkclean: '2.6.19',
    // migrate_pages(2) and page migration: 2.6.16 (migration entries in PTEs: 2.6.18).
    migrate_pages: '2.6.16'
  },
  // PG_mlocked came with the unevictable LRU (2.6.28); 2.6.11 keeps VM_LOCKED only.
  tracksMlock: false,
  // mm/memory.c make_pages_present(): write = (vma->vm_flags & VM_WRITE) ? 1 : 0.
  mlockFaultsWrite: (vma: Vma) => (vma.flags & VM.WRITE) !== 0,
  // mm/mlock.c mlock_fixup(): split_vma() at both ends, no vma_merge().
  mlockMerges: false,
  // mm/mmap.c do_munmap(): split_vma(mm, mpnt, start, 0); ... split_vma(mm, last, end, 1).
  munmapKeepsOriginalOutside: true,
  // mm/memory.c do_no_page(): entry = maybe_mkwrite(pte_mkdirty(entry), vma); no set_page_dirty.
  sharedWriteFaultDirtiesPage: false,
  // filemap_nopage()/shmem_nopage(), do_swap_page(), follow_page() and zap_pte_range() call
  // mark_page_accessed(); do_anonymous_page(), do_wp_page() and read_swap_cache_async() lru_cache_add_active().
  tracksPageActivity: true,
  // mm/page-writeback.c clear_page_dirty_for_io(): TestClearPageDirty only.
  writebackCleansPtes: false,
  // mm/rmap.c page_referenced_file(): if ((vma->vm_flags & (VM_LOCKED|VM_MAYSHARE)) == (VM_LOCKED|VM_MAYSHARE)) { referenced++; break; }
  referencedStopsAtLockedMapping: false,
  referencedStopsAtLockedSharedVma: true,
  mprotectPopulatesLocked: false,
  // mm/memory.c do_swap_page(): read_swap_cache_async() always.
  swapinBypassesCache: false,
  // 2.6.11 mprotect_fixup(): "cannot reduce our commit if we make it unwritable again".
  mprotectUnaccountsUntouchedAnon: false,
  mremapMovesMultipleVmas: false,
  mmapMinAddr: 0,
  // include/asm-x86_64/processor.h: #define TASK_SIZE (0x800000000000UL).
  taskSize: 2 ** 47,
  pteLayout: X86_64_2611_PTE,
  pageFlags: PAGE_FLAGS_2611,
  zeroPageFlags: PG.reserved,
  // mm/memory.c zap_pte_range(): if (pte_dirty(pte)) set_page_dirty(page); then if (PageAnon(page)) ...
  zapDirtiesAnonPages: true,
  // mm/memory.c make_pages_present(): get_user_pages(current, mm, start, len, write, 0, NULL, NULL).
  mlockForcesPopulate: false,
  // mm/memory.c get_user_pages(): if (!write && untouched_anonymous_page(mm, vma, start)) map = ZERO_PAGE(start).
  gupSkipsUntouchedAnon: true,
  // MAP_FIXED_NOREPLACE came in 4.17; sys_x86_64.c arch_get_unmapped_area(): `if (addr) { addr = PAGE_ALIGN(addr); ... return addr; }`.
  fixedNoreplace: 'hint',
  // include/linux/sched.h struct mm_struct: rss (every resident page, the zero page aside) and anon_rss;
  // swap entries are not counted.
  rssView: (rss) => ({ rss: rss.anon + rss.file + rss.shmem, anon_rss: rss.anon }),
  // arch/x86_64/mm/fault.c do_page_fault(): switch (error_code & 3) { ... case 1: goto bad_area; case 0: ... }
  execFaultsAsRead: true,
  // 2.6.11 arch/x86_64/mm/fault.c do_page_fault(): a read of a not-present page needs VM_READ|VM_EXEC.
  readAccessFlags: VM.READ | VM.EXEC,
  // mm/memory.c do_anonymous_page(): lru_cache_add_active(page); SetPageReferenced(page).
  newAnonPageReferenced: true,
  // mm/mremap.c vma_adjust() grows the VMA without merging.
  mremapExpandMerges: false,
  // arch_get_unmapped_area(): addr = PAGE_ALIGN(addr).
  roundHint: (hint: number) => Math.ceil(hint / PAGE_SIZE) * PAGE_SIZE,

  // mm/prio_tree.c: i_mmap is a radix priority search tree (struct prio_tree_root).
  newImmap: () => new PrioTree<Vma>(),
  restoreImmap: (shape, valueOf) => PrioTree.restore(shape, valueOf),

  describeAnonWalk: (av) => `every VMA on anon_vma #${av.id}'s list is visited, related to the page or not`,
  checkAnonLinks (k, vma, fail) {
    if (vma.anonVma === null) return
    if (!k.anonVmas.has(vma.anonVma.id)) fail(`${vma} points at freed anon_vma #${vma.anonVma.id}`)
    if (!vma.anonVma.vmas.includes(vma)) fail(`${vma} is missing from anon_vma #${vma.anonVma.id}'s list`)
  },

  getUnmappedArea: (mm, len) => getUnmappedArea2611(mm, len),
  noteSearchedArea (mm, addr, len) { mm.freeAreaCache = addr + len },
  // arch_unmap_area(): a hole below the cache makes the next search start there.
  noteUnmap (mm, addr) {
    if (addr >= TASK_UNMAPPED_BASE_2611 && addr < mm.freeAreaCache) mm.freeAreaCache = addr
  },
  // mm_init() and dup_mmap(): the search starts at TASK_UNMAPPED_BASE (the child's at oldmm->mmap_base).
  initMm (mm) { mm.freeAreaCache = TASK_UNMAPPED_BASE_2611 },

  // mm/rmap.c anon_vma_prepare(): reuse a mergeable neighbour's anon_vma or allocate one.
  anonVmaPrepare (k: KernelState, vma: Vma): AnonVma {
    if (vma.anonVma !== null) return vma.anonVma
    const av = findMergeableAnonVma(vma, () => true) ?? k.newAnonVma()
    link(vma, av)
    return av
  },

  // kernel/fork.c dup_mmap(): `*tmp = *mpnt` copies vm->anon_vma, then anon_vma_link(tmp).
  anonVmaFork (_k: KernelState, child: Vma, parent: Vma): void {
    if (parent.anonVma !== null) link(child, parent.anonVma)
  },

  // split_vma()/copy_vma(): the new VMA joins the same list (__anon_vma_link).
  anonVmaClone (_k: KernelState, dst: Vma, src: Vma): void {
    if (src.anonVma === null) return
    const av = src.anonVma
    dst.anonVma = av
    if (!av.vmas.includes(dst)) av.vmas.unshift(dst)
  },

  // mm/rmap.c anon_vma_unlink(): list_del, and free the anon_vma once its list is empty.
  unlinkAnonVmas (k: KernelState, vma: Vma): void {
    const av = vma.anonVma
    if (av === null) return
    const i = av.vmas.indexOf(vma)
    if (i >= 0) av.vmas.splice(i, 1)
    if (av.vmas.length === 0) k.freeAnonVma(av)
  },

  beginVmaUpdate: () => undefined,

  // mm/mmap.c is_mergeable_anon_vma(): either has none, or both share one.
  isMergeableAnonVma: (tgt, srcAnon) => tgt.anonVma === null || srcAnon === null || tgt.anonVma === srcAnon,

  // page_add_anon_rmap(): page->mapping = vma->anon_vma | PAGE_MAPPING_ANON.
  newPageAnonVma (vma: Vma): AnonVma {
    if (vma.anonVma === null) throw new Error('page_add_anon_rmap without anon_vma')
    return vma.anonVma
  },

  // mm/rmap.c try_to_unmap_anon / page_referenced_anon: list_for_each_entry over anon_vma->head.
  anonWalkVmas: (av) => av.vmas.slice(),

  // 2.6.11 dup_mmap() calls copy_page_range() for every VMA.
  forkCopiesPtes: () => true,

  // mm/memory.c do_wp_page() + mm/swapfile.c can_share_swap_page(): reuse when page_count is 1,
  // or 2 with the swap cache as the only other holder of an otherwise unused swap slot.
  wpTryReuseAnon (k: KernelState, pfn: number): boolean {
    const inSwapCache = (k.pageFlags(pfn) & PG.swapcache) !== 0
    const count = k.refcount(pfn)
    if (!inSwapCache) return count === 1
    const slot = k.swap.slotOfPfn.get(pfn)
    return count === 2 && slot !== undefined && k.swap.count(slot) === 0
  }
}
