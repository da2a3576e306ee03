import { PG } from './frames.js'
import type { KernelState } from './kernel-state.js'

/**
 * The page-activity half of mm/swap.c that the 2.6.11 model keeps (the LRU lists themselves and the
 * pagevecs are not modelled: a page is on its list, PG_lru, from the moment it is added).
 */

/**
 * mark_page_accessed() (2.6.11 mm/swap.c): an inactive page referenced before is activated and loses
 * PG_referenced; any other page gains PG_referenced. Only kernels that track page activity
 * (KernelModel.tracksPageActivity) call it.
 */
export function markPageAccessed (k: KernelState, pfn: number): void {
  if (!k.model.tracksPageActivity) return
  const flags = k.pageFlags(pfn)
  if ((flags & (PG.active | PG.referenced | PG.lru)) === (PG.referenced | PG.lru)) {
    k.setPageFlags(pfn, PG.active)
    k.clearPageFlags(pfn, PG.referenced)
  } else if ((flags & PG.referenced) === 0) {
    k.setPageFlags(pfn, PG.referenced)
  }
}

/** lru_cache_add_active() (2.6.11): new anonymous pages start on the active list. */
export function lruAddActive (k: KernelState, pfn: number): void {
  if (k.model.tracksPageActivity) k.setPageFlags(pfn, PG.active)
}
