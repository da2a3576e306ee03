import { exitMm } from '../fork.js'
import { processOf } from '../lookup.js'
import { zapRange } from '../memory.js'
import { ProcRef } from './fields.js'
import { defineOp } from './op.js'

/** exit: every mapping is torn down (exit_mmap) and the process goes away. */
export const exitOp = defineOp({
  name: 'exit',
  cause: 'exit',
  fields: { ...ProcRef },
  check: (k, a) => ({ mm: processOf(k, a) }),
  apply (k, _a, { mm }) {
    exitMm(k, mm, (vma) => { zapRange(k, mm, vma, vma.start, vma.end) })
    return null
  }
})
