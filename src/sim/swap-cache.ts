import { PG } from './frames.js'
import type { KernelState } from './kernel-state.js'

/** add_to_swap(): give an anonymous page a swap slot and put it in the swap cache (one reference). */
export function addToSwap (k: KernelState, pfn: number): number {
  const slot = k.swap.alloc()
  k.swap.addToCache(slot, pfn)
  k.setPageFlags(pfn, PG.swapcache | PG.swapbacked)
  k.getPage(pfn)
  return slot
}

/** delete_from_swap_cache(): drops the cache's reference; the slot is released if no PTE uses it. */
export function deleteFromSwapCache (k: KernelState, pfn: number): void {
  const slot = k.swap.slotOfPfn.get(pfn)
  if (slot === undefined) return
  k.swap.removeFromCache(slot)
  k.clearPageFlags(pfn, PG.swapcache)
  k.putPage(pfn)
}

/**
 * free_swap_and_cache(): a swap PTE goes away (zap). When it was the last user of the slot and the
 * cached copy is not mapped, the cache lets go of the page too.
 */
export function freeSwapAndCache (k: KernelState, slot: number): void {
  k.swap.put(slot)
  if (k.swap.count(slot) > 0) return
  const pfn = k.swap.cache.get(slot)
  if (pfn !== undefined && k.mapcount(pfn) === 0) deleteFromSwapCache(k, pfn)
}
