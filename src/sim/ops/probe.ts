import { pageDown } from '../constants.js'
import { InvalidArgumentError } from '../errors.js'
import { processOf } from '../lookup.js'
import { pteMapped, ptePfn } from '../pte.js'
import { Address, addressArg, ProbeLabel, ProcRef } from './fields.js'
import { defineOp } from './op.js'

/**
 * probe (scenarios): which frame the page at `addr` maps right now, noted under the label `as`; a
 * batch groups the labels that saw the same frame. It changes nothing and is not journaled.
 */
export const probeOp = defineOp({
  name: 'probe',
  cause: 'probe',
  mutates: false,
  fields: { ...ProcRef, addr: Address, as: ProbeLabel.meta({ description: 'The label the frame is noted under' }) },
  check (k, a) {
    const mm = processOf(k, a)
    const addr = addressArg(a.addr)
    if (!Number.isSafeInteger(addr) || addr < 0 || addr >= k.model.taskSize) throw new InvalidArgumentError(`address ${String(addr)} is not a canonical user address`, 'EFAULT', { addr })
    return { mm, addr }
  },
  apply (_k, a, { mm, addr }) {
    const pte = mm.pgtable.get(pageDown(addr))
    return { as: a.as, pfn: pteMapped(pte) ? ptePfn(pte) : null }
  },
  journal: () => null
})
