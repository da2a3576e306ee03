import { checkFork, fork } from '../fork.js'
import { processOf } from '../lookup.js'
import { processView } from '../views.js'
import { ProcName, ProcRef } from './fields.js'
import { defineOp } from './op.js'
import { checkNameFree } from './spawn.js'

/** fork: the child gets copies of the VMAs and, where the kernel model copies them, of the PTEs. */
export const forkOp = defineOp({
  name: 'fork',
  cause: 'fork',
  fields: {
    ...ProcRef,
    child: ProcName.optional().meta({ description: 'A name for the child' }),
    name: ProcName.optional().meta({ description: 'A name for the child (the same as child)' })
  },
  check (k, a) {
    const mm = processOf(k, a)
    checkNameFree(k, a.child ?? a.name)
    checkFork(k, mm)
    return { mm }
  },
  apply: (k, a, { mm }) => processView(k, fork(k, mm, a.child ?? a.name ?? null)),
  journal: (a, { mm }) => {
    const child = a.child ?? a.name
    return child === undefined ? { op: 'fork', pid: mm.pid } : { op: 'fork', pid: mm.pid, child }
  }
})
