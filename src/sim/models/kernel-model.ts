import type { AnonVma } from '../anon-vma.js'
import type { KernelState } from '../kernel-state.js'
import type { Mm } from '../mm.js'
import type { IMmap } from '../immap.js'
import type { IntervalNode } from '../interval-tree.js'
import type { PrioTreeShape } from '../prio-tree.js'
import type { PageFlagLayout } from '../frames.js'
import type { PteLayout } from '../pte.js'
import type { RssView } from '../views.js'
import type { Vma } from '../vma.js'

export type KernelVersion = '2.6.11' | '6.18'
export const KERNEL_VERSIONS: readonly KernelVersion[] = ['2.6.11', '6.18']

/**
 * What differs between the two kernels, and nothing else: how anonymous pages are attached to and
 * found through anon_vmas, which VMAs fork copies PTEs for, when a write fault may reuse a shared
 * anonymous page, and a few presentation facts. Everything else is one engine.
 */
export interface KernelModel {
  readonly version: KernelVersion
  /** Added to the reference count to print `_count` (2.6.11 keeps the -1 bias). */
  readonly countBias: number
  /** How the trace names i_mmap and the anonymous-side structure. */
  readonly immapName: string
  readonly anonName: string
  /** Zero-page PTEs carry _PAGE_SPECIAL (vm_normal_page's pte_special test; absent in 2.6.11). */
  readonly zeroPageSpecial: boolean
  /** MAP_SHARED|MAP_ANONYMOUS: modern do_mmap ignores the caller's pgoff (0); 2.6.11 keeps it. */
  readonly sharedAnonPgoffZero: boolean
  /** Shared writable file mappings start read-only to catch the first write (vma_wants_writenotify, 2.6.19+). */
  readonly writeNotify: boolean
  /** try_to_unmap_one refuses (and clears) young PTEs (2.6.11; modern kernels leave that to page_referenced). */
  readonly unmapRefusesYoung: boolean
  /** PG_anon_exclusive is tracked (modern): fork clears it, new pages and reused pages have it. */
  readonly tracksAnonExclusive: boolean
  /** mprotect may make a PTE writable at once (can_change_pte_writable, modern). */
  readonly mprotectUpgradesWrite: boolean
  /** mprotect to read-only drops VM_ACCOUNT of anonymous memory that has no anon_vma yet (mprotect_fixup). */
  readonly mprotectUnaccountsUntouchedAnon: boolean
  /** mremap with MREMAP_FIXED and an unchanged size moves every VMA in the range, keeping the gaps (6.17+ remap_move). */
  readonly mremapMovesMultipleVmas: boolean
  /** TASK_SIZE: user addresses are below it (x86-64 2.6.11: 0x800000000000; modern TASK_SIZE_MAX 2^47 - 4096). */
  readonly taskSize: number
  /** The process's RSS counters as this kernel keeps them (from the simulator's per-type count). */
  rssView: (rss: { anon: number, file: number, shmem: number, swap: number }) => RssView
  /**
   * MAP_FIXED_NOREPLACE (4.17) is the kernel's own, or (2.6.11) emulated as a 2.6.11 program does it:
   * the address as a hint, accepted only where arch_get_unmapped_area() keeps a hint (a free range,
   * not address 0).
   */
  readonly fixedNoreplace: 'native' | 'hint'
  /** The zero page's flags (2.6.11 boot pages get only SetPageReserved in memmap_init_zone). */
  readonly zeroPageFlags: number
  /** A zap of a dirty PTE dirties an anonymous page too (2.6.11 zap_pte_range: set_page_dirty before the PageAnon test). */
  readonly zapDirtiesAnonPages: boolean
  /**
   * mlock's populate forces access (6.18 populate_vma_page_range: FOLL_FORCE for any accessible VMA);
   * 2.6.11 make_pages_present() calls get_user_pages() with force 0: a VMA without VM_READ is not
   * faulted in, and a read of untouched anonymous memory (no anon_vma, no page table) takes no fault
   * at all (untouched_anonymous_page).
   */
  readonly mlockForcesPopulate: boolean
  /**
   * get_user_pages() answers a read of untouched private anonymous memory (no anon_vma, no page
   * table there) with the zero page and faults nothing (2.6.11 untouched_anonymous_page).
   */
  readonly gupSkipsUntouchedAnon: boolean
  /** How this kernel's page flags look (names and bits), and what it calls a page-table page. */
  readonly pageFlags: PageFlagLayout
  /** How this kernel's PTEs look when printed (_PAGE_PROTNONE, swap entries, _PAGE_SPECIAL). */
  readonly pteLayout: PteLayout
  /**
   * An instruction fetch from a not-present page is handled as a read (2.6.11 x86-64 do_page_fault()
   * switches on error_code & 3 only: case 0 accepts VM_READ|VM_EXEC); if the page then maps NX the
   * refetch faults on a present page (case 1) and takes SIGSEGV, the page staying mapped.
   */
  readonly execFaultsAsRead: boolean
  /** vm.mmap_min_addr: the lowest address a mapping may have (2.6.23+; 2.6.11 has none). */
  readonly mmapMinAddr: number
  /** Access flags a read fault needs (x86 access_error: modern vma_is_accessible; 2.6.11 VM_READ|VM_EXEC). */
  readonly readAccessFlags: number
  /** do_anonymous_page() marks a new page PG_referenced (2.6.11 SetPageReferenced). */
  readonly newAnonPageReferenced: boolean
  /** mremap growing in place merges with an adjacent compatible VMA (modern vma_merge_extend). */
  readonly mremapExpandMerges: boolean
  /** How an mmap address hint is rounded before it is tried (round_hint_to_min / PAGE_ALIGN). */
  roundHint: (hint: number) => number
  /** page_referenced() also counts and clears PG_referenced (2.6.11 TestClearPageReferenced). */
  readonly referencedCountsPageFlag: boolean

  /**
   * Features this kernel does not have, by the name of their constant (MADV_WIPEONFORK, ...), each with
   * the version that added it: such an operation is refused as unsupported.
   */
  readonly missingFeatures: Readonly<Record<string, string>>
  /** PG_mlocked is kept (2.6.28+, the unevictable LRU): mlocked pages show it. */
  readonly tracksMlock: boolean
  /** mlock faults the range in for writing here (populate_vma_page_range: private writable; 2.6.11 make_pages_present: any VM_WRITE). */
  mlockFaultsWrite: (vma: Vma) => boolean
  /**
   * do_swap_page() reads a page whose slot only this PTE uses straight into a new page, leaving the swap
   * cache out and freeing the slot (6.18 with a synchronous swap device, the zram of the conformance
   * truths; 2.6.11 always goes through the swap cache).
   */
  readonly swapinBypassesCache: boolean
  /** mprotect_fixup() faults in (breaking COW) a private VM_LOCKED VMA that becomes writable (4.x and later). */
  readonly mprotectPopulatesLocked: boolean
  /**
   * A partial munmap splits so that the original vm_area_struct keeps the pieces outside the hole
   * (2.6.11 do_munmap: split_vma(mm, mpnt, start, 0) and split_vma(mm, last, end, 1)); otherwise the
   * originals are the pieces removed (6.18 vms_gather_munmap_vmas: __split_vma(.., start, 1) and
   * __split_vma(.., end, 0)).
   */
  readonly munmapKeepsOriginalOutside: boolean
  /**
   * A write fault on a shared file mapping marks the page dirty (6.18 do_shared_fault ->
   * fault_dirty_shared_page); 2.6.11 do_no_page() only makes the PTE dirty, and the dirt reaches the
   * page when the PTE is zapped or unmapped.
   */
  readonly sharedWriteFaultDirtiesPage: boolean
  /**
   * mark_page_accessed() and the active list are followed (2.6.11 mm/swap.c): file and shmem faults,
   * swap-ins, GUP and the zap of a young file PTE mark the page accessed; new anonymous pages are added
   * active (lru_cache_add_active). The 6.18 model does not show page activity.
   */
  readonly tracksPageActivity: boolean
  /** folio_referenced_one() ends the walk at a mapping in a VM_LOCKED VMA, its young bit untested (6.18). */
  readonly referencedStopsAtLockedMapping: boolean
  /** page_referenced_file() counts a VM_LOCKED|VM_MAYSHARE VMA as a reference and ends the walk there (2.6.11). */
  readonly referencedStopsAtLockedSharedVma: boolean
  /** Writeback write-protects and cleans the page's shared PTEs first (folio_clear_dirty_for_io -> folio_mkclean, 2.6.19+). */
  readonly writebackCleansPtes: boolean
  /** mlock_fixup() merges the changed VMA with its neighbours (modern vma_modify_flags; 2.6.11 only splits). */
  readonly mlockMerges: boolean

  /** A new, empty i_mmap in this kernel's structure. */
  newImmap: () => IMmap
  /** Rebuilds an i_mmap from its exact shape (snapshots), where the structure has one (the priority tree). */
  restoreImmap?: (shape: PrioTreeShape, valueOf: (id: number) => { value: Vma, start: number, last: number }) => { tree: IMmap, nodes: Map<number, IntervalNode<Vma>> }

  /** How a walk explains which VMAs it visits from this anon_vma. */
  describeAnonWalk: (anonVma: AnonVma, index: number) => string
  /** Reports where the VMA's anon_vma links disagree with the anon_vma side (invariants). */
  checkAnonLinks: (k: KernelState, vma: Vma, fail: (msg: string) => void) => void

  /** get_unmapped_area() for a mapping without a fixed address; null when nothing fits (ENOMEM). */
  getUnmappedArea: (mm: Mm, len: number, anonPrivate: boolean) => number | null
  /** A mapping was made where getUnmappedArea chose (2.6.11: mm->free_area_cache = addr + len). */
  noteSearchedArea: (mm: Mm, addr: number, len: number) => void
  /** Bookkeeping of the address search when a range is unmapped (2.6.11 arch_unmap_area). */
  noteUnmap: (mm: Mm, addr: number) => void
  /** The search state a new or forked mm starts with. */
  initMm: (mm: Mm, parent: Mm | null) => void

  /** anon_vma_prepare(): make sure the VMA has an anon_vma. */
  anonVmaPrepare: (k: KernelState, vma: Vma) => AnonVma
  /** At fork, link the child's copy of a VMA (2.6.11 anon_vma_link; modern anon_vma_fork). */
  anonVmaFork: (k: KernelState, child: Vma, parent: Vma) => void
  /** A new VMA made from `src` (split, merge, mremap) joins its anon_vmas (anon_vma_clone). */
  anonVmaClone: (k: KernelState, dst: Vma, src: Vma) => void
  /** The VMA goes away: unlink it and free anon_vmas nobody uses (unlink_anon_vmas / anon_vma_unlink). */
  unlinkAnonVmas: (k: KernelState, vma: Vma) => void
  /** The VMA's pgoff range is about to change; the returned function re-keys it afterwards. */
  beginVmaUpdate: (vma: Vma) => (() => void) | undefined
  /**
   * Can `tgt` absorb a range whose anon_vma is `srcAnon` (is_mergeable_anon_vma)? `src` is the existing
   * VMA being merged (mprotect), `copiedFrom` the VMA an mremap copies.
   */
  isMergeableAnonVma: (tgt: Vma, srcAnon: AnonVma | null, src: Vma | null, copiedFrom: Vma | null) => boolean
  /** The anon_vma a newly mapped anonymous page points to (__folio_set_anon / page_add_anon_rmap). */
  newPageAnonVma: (vma: Vma, exclusive: boolean) => AnonVma
  /** The VMAs an rmap walk of an anonymous page visits, in walk order (rmap_walk_anon). */
  anonWalkVmas: (anonVma: AnonVma, index: number) => Vma[]
  /** copy_page_range() is called for this VMA at fork. */
  forkCopiesPtes: (vma: Vma) => boolean
  /** do_wp_page(): may this write fault reuse the anonymous page instead of copying it? */
  wpTryReuseAnon: (k: KernelState, pfn: number, vma: Vma) => boolean
}
