import { PAGE_SIZE } from './constants.js'
import { PG, ZERO_PFN } from './frames.js'
import type { KernelState } from './kernel-state.js'
import type { Mm } from './mm.js'
import { PTE_ACCESSED, PTE_DIRTY, clearBits, pteDirty, pteIsSwap, pteMapped, ptePfn, pteYoung, swpOffset } from './pte.js'
import { spaceOf } from './memory.js'
import { rmapWalk, tryToUnmap } from './rmap.js'
import { deleteFromSwapCache, freeSwapAndCache } from './swap-cache.js'

/**
 * Reclaim as madvise drives it: mm/madvise.c madvise_cold_or_pageout_pte_range() picks the folios,
 * mm/vmscan.c reclaim_pages() -> shrink_folio_list() reclaims them (references ignored), and
 * madvise_free_pte_range() makes private anonymous memory lazily freeable.
 */

/**
 * madvise_cold_or_pageout_pte_range(): the normal folios of the range that are on the LRU and mapped
 * by this PTE alone (folio_mapcount == 1: "do not interfere with other mappings"); the zero page is no
 * folio (vm_normal_folio). In address order.
 */
export function pageoutCandidates (k: KernelState, mm: Mm, lo: number, hi: number): number[] {
  const out: number[] = []
  for (const vma of mm.vmasIn(lo, hi)) {
    mm.pgtable.forEachLeaf(Math.max(lo, vma.start), Math.min(hi, vma.end), (leaf, from, to) => {
      for (let i = from; i < to; i++) {
        const pte = leaf.ptes[i]
        if (!pteMapped(pte)) continue
        const pfn = ptePfn(pte)
        if (pfn === ZERO_PFN || k.mapcount(pfn) !== 1 || (k.pageFlags(pfn) & PG.lru) === 0) continue
        out.push(pfn)
      }
    })
  }
  return out
}

/**
 * shrink_folio_list() for one folio, references ignored (MADV_PAGEOUT): an mlocked folio is not
 * evictable and stays; a lazyfree (MADV_FREE) folio is discarded if still clean, or becomes
 * swap-backed again and stays mapped if written since; an anonymous folio goes to swap (add_to_swap,
 * try_to_unmap leaves swap entries, the synchronous write and __remove_mapping free it); a page-cache
 * folio loses its PTEs and, when clean, leaves the cache and is freed (a dirty one is not written
 * back by direct reclaim and stays cached); a shmem folio is written to swap by shmem_writepage().
 */
export function reclaimFolio (k: KernelState, pfn: number): void {
  const flags = k.pageFlags(pfn)
  k.clearPageFlags(pfn, PG.referenced)
  if ((flags & PG.mlocked) !== 0) return
  if (k.isAnonPage(pfn)) {
    if ((flags & PG.swapbacked) === 0) discardLazyfree(k, pfn)
    else tryToUnmap(k, pfn)
    return
  }
  // A page-cache page: try_to_unmap() clears each PTE (a dirty one dirties the page).
  const space = spaceOf(k, pfn)
  tryToUnmap(k, pfn)
  if (k.refcount(pfn) !== 1) return
  const index = k.pageIndex(pfn)
  if (space.kind === 'shmem') {
    // pageout() -> shmem_writepage(): the page gets a swap slot, which the shmem page cache holds in
    // its place (swap_shmem_alloc), is written (zram: at once) and freed.
    const slot = k.swap.alloc()
    k.swap.dup(slot)
    space.swapped.set(index, slot)
  } else if ((k.pageFlags(pfn) & PG.dirty) !== 0) {
    return
  }
  // __remove_mapping(): the page leaves the page cache and is freed.
  space.cache.delete(index)
  k.putPage(pfn)
}

/**
 * try_to_unmap_one() on a lazyfree folio: the PTE is cleared (ptep_clear_flush); a clean folio is
 * discarded (the PTE stays none, the page is freed); a folio dirtied since MADV_FREE gets its PTE back
 * and is swap-backed again (folio_set_swapbacked), to be swapped by a later reclaim.
 */
function discardLazyfree (k: KernelState, pfn: number): void {
  rmapWalk(k, pfn, (m) => {
    const pte = m.leaf.ptes[m.slot]
    if (pteDirty(pte) || (k.pageFlags(pfn) & PG.dirty) !== 0) {
      k.setPageFlags(pfn, PG.dirty | PG.swapbacked)
      return false
    }
    k.setPte(m.vma.mm, m.leaf, m.slot, m.addr, 0)
    m.vma.mm.rss.anon--
    k.unmapPage(pfn)
    k.putPage(pfn)
    return undefined
  })
}

/**
 * madvise_free_pte_range(): swap entries in the range are freed (free_swap_and_cache_nr); a folio
 * mapped here alone is made lazily freeable: out of the swap cache when no one else uses its slot
 * (folio_free_swap, else it is left alone), clean (folio_clear_dirty), its PTE old and clean, and no
 * longer swap-backed (folio_mark_lazyfree). A folio in the swap cache or PG_dirty is handled only when
 * this PTE alone maps it.
 */
export function madviseFree (k: KernelState, mm: Mm, lo: number, hi: number): void {
  for (const vma of mm.vmasIn(lo, hi)) {
    mm.pgtable.forEachLeaf(Math.max(lo, vma.start), Math.min(hi, vma.end), (leaf, from, to, base) => {
      for (let i = from; i < to; i++) {
        const pte = leaf.ptes[i]
        const addr = base + i * PAGE_SIZE
        if (pteIsSwap(pte)) {
          k.setPte(mm, leaf, i, addr, 0)
          mm.rss.swap--
          freeSwapAndCache(k, swpOffset(pte))
          continue
        }
        if (!pteMapped(pte)) continue
        const pfn = ptePfn(pte)
        if (pfn === ZERO_PFN || !k.isAnonPage(pfn)) continue
        // Only a folio in the swap cache or marked dirty must be this PTE's alone; a clean shared one
        // is made lazyfree as well (its dirtiness lives in the PTEs).
        if ((k.pageFlags(pfn) & (PG.swapcache | PG.dirty)) !== 0) {
          if (k.mapcount(pfn) !== 1) continue
          if ((k.pageFlags(pfn) & PG.swapcache) !== 0) {
            const slot = k.swap.slotOfPfn.get(pfn)
            if (slot !== undefined && k.swap.count(slot) > 0) continue
            deleteFromSwapCache(k, pfn)
          }
          k.clearPageFlags(pfn, PG.dirty)
        }
        if (pteYoung(pte) || pteDirty(pte)) k.setPte(mm, leaf, i, addr, clearBits(pte, PTE_ACCESSED | PTE_DIRTY))
        if ((k.pageFlags(pfn) & (PG.swapbacked | PG.swapcache | PG.mlocked)) === PG.swapbacked) k.clearPageFlags(pfn, PG.swapbacked)
      }
    })
  }
}
