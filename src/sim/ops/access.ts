import { hex } from '../constants.js'
import { InvalidArgumentError, SimError } from '../errors.js'
import type { FaultPath } from '../events.js'
import { processOf } from '../lookup.js'
import { checkFault, handleMmFault, type AccessOp } from '../memory.js'
import { decodePte, type DecodedPte } from '../pte.js'
import { Address, addressArg, ProcRef } from './fields.js'
import { defineOp } from './op.js'

export interface AccessResult {
  pid: number
  addr: number
  op: AccessOp
  ok: boolean
  path: FaultPath
  signal?: 'SIGSEGV' | 'SIGBUS'
  siCode?: string
  reason?: string
  vmaId?: number
  pteBefore: DecodedPte
  pte: DecodedPte
  pfn?: number
  copiedFrom?: number
}

/**
 * A signal is a result for one access, but in a batch or scenario it fails the op (the process would
 * be dead); the access route answers it as an error too.
 */
export class SignalError extends SimError {
  declare readonly code: 'segfault' | 'bus_error'
  constructor (readonly access: AccessResult) {
    const bus = access.signal === 'SIGBUS'
    super(bus ? 'bus_error' : 'segfault', bus ? 'SIGBUS' : 'SIGSEGV', `${access.signal ?? 'SIGSEGV'} at ${hex(access.addr)}: ${access.reason ?? ''}`, { signal: access.signal, siCode: access.siCode, reason: access.reason })
  }
}

/** The access changed the state: it succeeded, or faulted a page in before its signal. */
const changedState = (r: AccessResult): boolean => r.ok || (r.path !== 'sigsegv' && r.path !== 'sigbus')

/**
 * read, write, exec: a one-byte access. No fault, a fault path, or a signal, which is a result (with
 * nothing changed) and is not journaled (but see changedState).
 */
function accessOp<const N extends AccessOp> (op: N) {
  return defineOp({
    name: op,
    cause: 'access',
    fields: { ...ProcRef, addr: Address },
    check (k, a) {
      const mm = processOf(k, a)
      const addr = addressArg(a.addr)
      if (!Number.isSafeInteger(addr) || addr < 0 || addr >= k.model.taskSize) throw new InvalidArgumentError(`address ${String(addr)} is not a canonical user address (below ${hex(k.model.taskSize)})`, 'EFAULT', { addr })
      return checkFault(k, mm, addr, op)
    },
    apply (k, _a, fault): AccessResult {
      const { mm, addr } = fault
      const r = handleMmFault(k, fault, op)
      k.cause.path = r.path
      return {
        pid: mm.pid,
        addr,
        op,
        ok: r.signal === undefined,
        path: r.path,
        signal: r.signal,
        siCode: r.siCode,
        reason: r.reason,
        vmaId: r.vma?.id,
        pteBefore: decodePte(r.pteBefore, k.model.pteLayout),
        pte: decodePte(r.pteAfter, k.model.pteLayout),
        pfn: r.pfn,
        copiedFrom: r.copiedFrom
      }
    },
    // A signal before any change is a failure that leaves no trace; 2.6.11's exec of a non-exec page
    // signals after its read fault mapped the page, so it is journaled and not a failure (see execFaultsAsRead).
    journal: (_a, { mm, addr }, r) => changedState(r) ? { op, pid: mm.pid, addr } : null,
    failure: (r) => changedState(r) ? undefined : new SignalError(r)
  })
}

export const readOp = accessOp('read')
export const writeOp = accessOp('write')
export const execOp = accessOp('exec')
