import { NotFoundError } from '../errors.js'
import { ZERO_PFN } from '../frames.js'
import type { KernelState } from '../kernel-state.js'
import { checkMigratePage, checkRmapPage, checkTryToUnmap, migratePage, pageMkclean, pageReferenced, tryToUnmap } from '../rmap.js'
import { Pfn } from './fields.js'
import { defineOp } from './op.js'

/** A PFN the machine has (ENOENT otherwise). */
export function checkPfn (k: KernelState, pfn: number): void {
  if (!k.frames.isValidPfn(pfn)) throw new NotFoundError(`no frame with PFN ${String(pfn)} (valid: ${ZERO_PFN} to ${k.frames.pfnLimit - 1})`, 'ENOENT', { pfn })
}

const pfnField = { pfn: Pfn }

/** page_referenced: test and clear the young bit of every PTE mapping the page. */
export const referencedOp = defineOp({
  name: 'referenced',
  cause: 'page_referenced',
  fields: pfnField,
  check (k, a) {
    checkPfn(k, a.pfn)
    checkRmapPage(k, a.pfn, 'page_referenced')
    return {}
  },
  apply: (k, a) => pageReferenced(k, a.pfn)
})

/** try_to_unmap: what reclaim does to one page (to swap for anonymous pages). */
export const unmapOp = defineOp({
  name: 'unmap',
  cause: 'try_to_unmap',
  fields: pfnField,
  check (k, a) {
    checkPfn(k, a.pfn)
    checkTryToUnmap(k, a.pfn)
    return {}
  },
  apply: (k, a) => tryToUnmap(k, a.pfn)
})

/** page_mkclean: write-protect and clean every shared mapping of the page, then write it back. */
export const mkcleanOp = defineOp({
  name: 'mkclean',
  cause: 'page_mkclean',
  fields: pfnField,
  check (k, a) {
    checkPfn(k, a.pfn)
    checkRmapPage(k, a.pfn, 'page_mkclean')
    return {}
  },
  apply: (k, a) => pageMkclean(k, a.pfn)
})

/** migrate: move the page to a new frame through migration entries. */
export const migrateOp = defineOp({
  name: 'migrate',
  cause: 'migrate',
  fields: pfnField,
  check (k, a) {
    checkPfn(k, a.pfn)
    checkMigratePage(k, a.pfn)
    return {}
  },
  apply: (k, a) => migratePage(k, a.pfn)
})
