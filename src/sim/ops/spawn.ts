import { ConflictError } from '../errors.js'
import { checkSpawn, spawn } from '../fork.js'
import type { KernelState } from '../kernel-state.js'
import { processView } from '../views.js'
import { ProcName } from './fields.js'
import { defineOp } from './op.js'

/** A live process already named `name` is a conflict (names pick processes out in later ops). */
export function checkNameFree (k: KernelState, name: string | undefined): void {
  if (name === undefined) return
  for (const mm of k.processes.values()) {
    if (mm.name === name) throw new ConflictError(`a live process is already named "${name}" (pid ${mm.pid})`, 'EEXIST', { name })
  }
}

/** spawn: a new process with an empty address space (a pgd and nothing mapped). */
export const spawnOp = defineOp({
  name: 'spawn',
  cause: 'spawn',
  fields: {
    name: ProcName.optional(),
    proc: ProcName.optional().meta({ description: 'The scenario format\'s spelling of name' })
  },
  check (k, a) {
    checkNameFree(k, a.name ?? a.proc)
    checkSpawn(k)
    return {}
  },
  apply: (k, a) => processView(k, spawn(k, a.name ?? a.proc ?? null)),
  journal: (a) => (a.name ?? a.proc) === undefined ? { op: 'spawn' } : { op: 'spawn', name: a.name ?? a.proc }
})
