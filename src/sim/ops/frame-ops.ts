import type { KernelState } from '../kernel-state.js'
import { checkPfn } from '../lookup.js'
import { checkMigratePage, checkRmapPage, checkTryToUnmap, migratePage, pageMkclean, pageReferenced, tryToUnmap } from '../rmap.js'
import { Pfn } from './fields.js'
import { defineOp } from './op.js'

/** An rmap operation on one frame: the frame must exist, then pass the operation's own check. */
function rmapOp<const N extends string, R> (name: N, cause: string, check: (k: KernelState, pfn: number) => void, apply: (k: KernelState, pfn: number) => R) {
  return defineOp({
    name,
    cause,
    fields: { pfn: Pfn },
    check (k, a) {
      checkPfn(k, a.pfn)
      check(k, a.pfn)
      return {}
    },
    apply: (k, a) => apply(k, a.pfn)
  })
}

/** page_referenced: test and clear the young bit of every PTE mapping the page. */
export const referencedOp = rmapOp('referenced', 'page_referenced', (k, pfn) => { checkRmapPage(k, pfn, 'page_referenced') }, pageReferenced)

/** try_to_unmap: what reclaim does to one page (to swap for anonymous pages). */
export const unmapOp = rmapOp('unmap', 'try_to_unmap', checkTryToUnmap, tryToUnmap)

/** page_mkclean: write-protect and clean every shared mapping of the page, then write it back. */
export const mkcleanOp = rmapOp('mkclean', 'page_mkclean', (k, pfn) => { checkRmapPage(k, pfn, 'page_mkclean') }, pageMkclean)

/** migrate: move the page to a new frame through migration entries. */
export const migrateOp = rmapOp('migrate', 'migrate', checkMigratePage, migratePage)
