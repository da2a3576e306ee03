import type { AddressSpace } from './address-space.js'
import { InvalidArgumentError, NotFoundError } from './errors.js'
import { ZERO_PFN } from './frames.js'
import type { KernelState } from './kernel-state.js'
import type { Mm } from './mm.js'

/** Finding what an op or a query names: a process, a file, a frame (each ENOENT/ESRCH when absent). */

/** The live process an op names, by pid or by name. */
export function processOf (k: KernelState, ref: { pid?: number, proc?: string }): Mm {
  if (ref.pid !== undefined) {
    const mm = k.processes.get(ref.pid)
    if (mm === undefined) throw new NotFoundError(`no process with pid ${ref.pid}`, 'ESRCH', { pid: ref.pid })
    return mm
  }
  if (ref.proc !== undefined) return processNamed(k, ref.proc)
  throw new InvalidArgumentError('the op names no process (pid or proc)')
}

/** The live process with this name. */
export function processNamed (k: KernelState, name: string): Mm {
  for (const mm of k.processes.values()) if (mm.name === name) return mm
  throw new NotFoundError(`no live process named "${name}"`, 'ESRCH', { name })
}

/** The named file. */
export function fileNamed (k: KernelState, name: string): AddressSpace {
  const f = k.files.get(name)
  if (f === undefined) throw new NotFoundError(`no file named "${name}"`, 'ENOENT', { name })
  return f
}

/** A PFN the machine has. */
export function checkPfn (k: KernelState, pfn: number): void {
  if (!k.frames.isValidPfn(pfn)) throw new NotFoundError(`no frame with PFN ${String(pfn)} (valid: ${ZERO_PFN} to ${k.frames.pfnLimit - 1})`, 'ENOENT', { pfn })
}
