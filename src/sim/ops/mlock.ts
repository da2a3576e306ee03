import { processOf } from '../lookup.js'
import { checkMlock, doMlock } from '../mlock.js'
import { Address, addressArg, Pages, ProcRef } from './fields.js'
import { defineOp } from './op.js'

const range = { ...ProcRef, addr: Address, pages: Pages }

/** mlock / munlock: VM_LOCKED on or off over a range (mm/mlock.c do_mlock, apply_vma_lock_flags). */
function lockOp<const N extends 'mlock' | 'munlock'> (name: N) {
  const lock = name === 'mlock'
  return defineOp({
    name,
    cause: name,
    fields: range,
    check (k, a) {
      const mm = processOf(k, a)
      return { mm, ...checkMlock(k, mm, addressArg(a.addr), a.pages, lock) }
    },
    apply (k, _a, { mm, lo, hi }) {
      doMlock(k, mm, lo, hi, lock)
      return null
    }
  })
}

/** mlock: the range becomes VM_LOCKED and is faulted in at once; its pages stay resident. */
export const mlockOp = lockOp('mlock')
/** munlock: VM_LOCKED comes off the range; its pages are evictable again unless another locked VMA maps them. */
export const munlockOp = lockOp('munlock')
