import type { AddressSpace } from './address-space.js'
import { PG } from './frames.js'
import type { KernelState } from './kernel-state.js'
import { pageMkclean } from './rmap.js'

export interface WritebackResult {
  /** The dirty pages written, by index. */
  written: Array<{ index: number, pfn: number }>
  /** PTEs write-protected and cleaned on the way (6.18 folio_mkclean; 2.6.11 never touches PTEs). */
  ptesCleaned: number
}

/**
 * filemap_fdatawrite() (fsync / sync) of one file: every dirty page-cache page is written and left
 * clean. 6.18 folio_clear_dirty_for_io() first makes every shared mapping read-only and clean
 * (folio_mkclean), so a later write faults and dirties the page again; 2.6.11 clear_page_dirty_for_io()
 * only clears PG_dirty: a writable, dirty PTE keeps its dirt, which reaches the page again when the PTE
 * is zapped or unmapped (the gap page_mkclean closed in 2.6.19). shmem objects have no file to write.
 */
export function writebackFile (k: KernelState, space: AddressSpace): WritebackResult {
  const written: WritebackResult['written'] = []
  let ptesCleaned = 0
  if (space.kind !== 'file') return { written, ptesCleaned }
  for (const index of space.cachedIndexes()) {
    const pfn = space.cache.get(index) as number
    if (k.model.writebackCleansPtes) {
      const r = pageMkclean(k, pfn)
      ptesCleaned += r.cleaned
      if (r.wasDirty) written.push({ index, pfn })
    } else if ((k.pageFlags(pfn) & PG.dirty) !== 0) {
      k.clearPageFlags(pfn, PG.dirty)
      written.push({ index, pfn })
    }
  }
  return { written, ptesCleaned }
}
