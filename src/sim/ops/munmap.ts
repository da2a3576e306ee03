import { PAGE_SIZE } from '../constants.js'
import { processOf } from '../lookup.js'
import { checkMunmap, doMunmap } from '../mmap.js'
import { Address, addressArg, Pages, ProcRef } from './fields.js'
import { defineOp } from './op.js'

/** munmap: the range's PTEs and VMAs go (VMAs are split at its edges). */
export const munmapOp = defineOp({
  name: 'munmap',
  cause: 'munmap',
  fields: { ...ProcRef, addr: Address, pages: Pages },
  check (k, a) {
    const mm = processOf(k, a)
    const addr = addressArg(a.addr)
    checkMunmap(k, mm, addr, a.pages)
    return { mm, addr }
  },
  apply (k, a, { mm, addr }) {
    doMunmap(k, mm, addr, addr + a.pages * PAGE_SIZE)
    return null
  }
})
