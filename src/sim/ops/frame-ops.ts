import { z } from 'zod'
import type { KernelState } from '../kernel-state.js'
import { checkPfn } from '../lookup.js'
import { checkMigratePage, checkRmapPage, checkTryToUnmap, migratePage, pageMkclean, pageReferenced, tryToUnmap, type RmapStep } from '../rmap.js'
import { checkFeature } from '../models/features.js'
import { Pfn } from './fields.js'
import { defineOp } from './op.js'

/** The check of an rmap operation on one frame: the frame must exist, then pass the operation's own check. */
const frameCheck = (check: (k: KernelState, pfn: number) => void) => (k: KernelState, a: { pfn: number }): Record<string, never> => {
  checkPfn(k, a.pfn)
  check(k, a.pfn)
  return {}
}

/** An rmap operation on one frame. */
function rmapOp<const N extends string, R> (name: N, cause: string, check: (k: KernelState, pfn: number) => void, apply: (k: KernelState, pfn: number) => R) {
  return defineOp({ name, cause, fields: { pfn: Pfn }, check: frameCheck(check), apply: (k, a) => apply(k, a.pfn) })
}

const Trace = z.boolean().optional().meta({ description: 'Return the rmap walk the operation made, step by step (where it stopped, too)' })

/** An rmap operation whose walk can be traced: the trace is part of the result, never of the journal. */
function tracedRmapOp<const N extends string, R extends object> (name: N, cause: string, check: (k: KernelState, pfn: number) => void, apply: (k: KernelState, pfn: number, trace?: RmapStep[]) => R) {
  return defineOp({
    name,
    cause,
    fields: { pfn: Pfn, trace: Trace },
    check: frameCheck(check),
    apply (k, a): R & { trace?: RmapStep[] } {
      if (a.trace !== true) return apply(k, a.pfn) as R & { trace?: RmapStep[] }
      const trace: RmapStep[] = []
      return { ...apply(k, a.pfn, trace), trace }
    },
    journal: (a) => ({ op: name, pfn: a.pfn })
  })
}

/** page_referenced: test and clear the young bit of every PTE mapping the page. */
export const referencedOp = tracedRmapOp('referenced', 'page_referenced', (k, pfn) => { checkRmapPage(k, pfn, 'page_referenced') }, pageReferenced)

/** try_to_unmap: what reclaim does to one page (to swap for anonymous pages). */
export const unmapOp = tracedRmapOp('unmap', 'try_to_unmap', checkTryToUnmap, tryToUnmap)

/** page_mkclean: write-protect and clean every shared mapping of the page, then write it back (2.6.19+). */
export const mkcleanOp = rmapOp('mkclean', 'page_mkclean', (k, pfn) => {
  checkFeature(k, 'page_mkclean', 'page_mkclean()')
  checkRmapPage(k, pfn, 'page_mkclean')
}, pageMkclean)

/** migrate: move the page to a new frame through migration entries (2.6.16+). */
export const migrateOp = rmapOp('migrate', 'migrate', (k, pfn) => {
  checkFeature(k, 'migrate_pages', 'page migration')
  checkMigratePage(k, pfn)
}, migratePage)
