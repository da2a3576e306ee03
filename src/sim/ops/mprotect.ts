import { processOf } from '../lookup.js'
import { checkMprotect, doMprotect } from '../mprotect.js'
import { parseProt } from '../vma.js'
import { Address, addressArg, Pages, ProcRef, Prot } from './fields.js'
import { defineOp } from './op.js'

/** mprotect: new protection for a range (VMAs split at its edges and merge again where they can). */
export const mprotectOp = defineOp({
  name: 'mprotect',
  cause: 'mprotect',
  fields: { ...ProcRef, addr: Address, pages: Pages, prot: Prot },
  check (k, a) {
    const mm = processOf(k, a)
    const flags = parseProt(a.prot)
    const addr = addressArg(a.addr)
    checkMprotect(k, mm, addr, a.pages, flags)
    return { mm, addr, flags }
  },
  apply (k, a, { mm, addr, flags }) {
    doMprotect(k, mm, addr, a.pages, flags)
    return null
  }
})
