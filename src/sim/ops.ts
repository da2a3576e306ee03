import { hex } from './constants.js'
import { InvalidArgumentError, SimError } from './errors.js'
import type { AccessResult, Simulator } from './simulator.js'

/**
 * One vocabulary for every mutation, used by batches (/ops), journals and replays. Processes are
 * named by `pid` or by `proc` (a name given at spawn or fork), so later ops can refer to children
 * created earlier. It is a superset of the conformance scenario format: spawn {proc}, fork {proc,
 * child}, mmap {kind: anon|file}, read/write, dontneed and probe are accepted as they are.
 */
type ProcRef = { pid?: number, proc?: string }
type Addr = number | string

export type Op =
  | { op: 'createFile', name: string, pages: number }
  | ({ op: 'spawn', name?: string } & ProcRef)
  | ({ op: 'fork', child?: string, name?: string } & ProcRef)
  | ({ op: 'exit' } & ProcRef)
  | ({ op: 'mmap', addr?: Addr, fixed?: 'noreplace' | 'replace' | 'hint', pages: number, prot?: string, shared?: boolean, kind?: 'anon' | 'file', file?: string, offset?: number } & ProcRef)
  | ({ op: 'munmap' | 'dontneed', addr: Addr, pages: number } & ProcRef)
  | ({ op: 'mprotect', addr: Addr, pages: number, prot: string } & ProcRef)
  | ({ op: 'mremap', addr: Addr, pages: number, newPages: number, newAddr?: Addr, mayMove?: boolean } & ProcRef)
  | ({ op: 'madvise', addr: Addr, pages: number, advice: 'dontneed' } & ProcRef)
  | ({ op: 'read' | 'write' | 'exec', addr: Addr } & ProcRef)
  | { op: 'referenced' | 'unmap' | 'mkclean' | 'migrate', pfn: number }
  | { op: 'evict', file: string }
  | ({ op: 'probe', addr: Addr, as: string } & ProcRef)

export type OpName = Op['op']
export const MUTATING_OPS: readonly OpName[] = ['createFile', 'spawn', 'fork', 'exit', 'mmap', 'munmap', 'dontneed', 'mprotect', 'mremap', 'madvise', 'read', 'write', 'exec', 'referenced', 'unmap', 'mkclean', 'migrate', 'evict']

export interface OpOutcome {
  index: number
  op: OpName
  ok: boolean
  /** What the op returned (a process, a VMA, an access result, ...). */
  result?: unknown
  error?: { code: string, message: string, details?: Record<string, unknown> }
}

const addr = (a: Addr): number => {
  if (typeof a === 'number') return a
  const n = /^0x[0-9a-fA-F]{1,16}$/.test(a) ? Number.parseInt(a.slice(2), 16) : Number.NaN
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`"${a}" is not an address (a hex string like "0x10000000" or an integer)`, 'EINVAL', { addr: a })
  return n
}

function pidOf (sim: Simulator, r: ProcRef): number {
  if (r.pid !== undefined) return r.pid
  if (r.proc !== undefined) return sim.pidOf(r.proc)
  throw new InvalidArgumentError('the op names no process (pid or proc)')
}

/** A signal is a result for /access, but in a batch it fails the op (the process would be dead). */
export class SignalError extends SimError {
  constructor (readonly access: AccessResult) {
    super('invalid_argument', access.signal === 'SIGBUS' ? 'SIGBUS' : 'SIGSEGV', `${access.signal ?? 'SIGSEGV'} at ${hex(access.addr)}: ${access.reason ?? ''}`, { signal: access.signal, siCode: access.siCode, reason: access.reason })
  }
}

/** Applies one op; throws a SimError (state unchanged) when it fails. */
export function applyOp (sim: Simulator, op: Op, probes?: Map<string, number | null>): unknown {
  switch (op.op) {
    case 'createFile': return sim.createFile(op.name, op.pages)
    case 'spawn': return sim.spawn(op.name ?? op.proc)
    case 'fork': return sim.fork(pidOf(sim, op), op.child ?? op.name)
    case 'exit': sim.exit(pidOf(sim, op)); return null
    case 'mmap':
      if (op.kind === 'file' && op.file === undefined) throw new InvalidArgumentError('a file mapping names its file')
      return sim.mmap(pidOf(sim, op), {
        addr: op.addr === undefined ? undefined : addr(op.addr),
        fixed: op.fixed,
        pages: op.pages,
        prot: op.prot,
        shared: op.shared,
        file: op.kind === 'anon' ? undefined : op.file,
        offset: op.offset
      })
    case 'munmap': sim.munmap(pidOf(sim, op), addr(op.addr), op.pages); return null
    case 'dontneed': sim.madvise(pidOf(sim, op), addr(op.addr), op.pages, 'dontneed'); return null
    case 'madvise': sim.madvise(pidOf(sim, op), addr(op.addr), op.pages, op.advice); return null
    case 'mprotect': sim.mprotect(pidOf(sim, op), addr(op.addr), op.pages, op.prot); return null
    case 'mremap':
      return sim.mremap(pidOf(sim, op), { addr: addr(op.addr), pages: op.pages, newPages: op.newPages, newAddr: op.newAddr === undefined ? undefined : addr(op.newAddr), mayMove: op.mayMove })
    case 'read':
    case 'write':
    case 'exec': {
      const r = sim.access(pidOf(sim, op), addr(op.addr), op.op)
      if (!r.ok) throw new SignalError(r)
      return r
    }
    case 'referenced': return sim.referenced(op.pfn)
    case 'unmap': return sim.unmap(op.pfn)
    case 'mkclean': return sim.mkclean(op.pfn)
    case 'migrate': return sim.migrate(op.pfn)
    case 'evict': return sim.evict(op.file)
    case 'probe': {
      const t = sim.translate(pidOf(sim, op), addr(op.addr))
      probes?.set(op.as, t.pfn)
      return { as: op.as, pfn: t.pfn }
    }
    default:
      throw new InvalidArgumentError(`unknown op "${(op as { op: string }).op}"`)
  }
}

export type BatchMode = 'atomic' | 'continue'

export interface BatchResult {
  applied: boolean
  mode: BatchMode
  results: OpOutcome[]
  failed: number
  /** Atomic mode: the first op that failed (nothing was applied). */
  firstFailure?: OpOutcome
  probes: { same: string[][], unmapped: string[], labels: Record<string, number | null> }
}

function outcome (index: number, op: Op, fn: () => unknown): OpOutcome {
  try {
    return { index, op: op.op, ok: true, result: fn() }
  } catch (err) {
    if (!(err instanceof SimError)) throw err
    const code = err instanceof SignalError ? (err.errno === 'SIGBUS' ? 'bus_error' : 'segfault') : err.code
    return { index, op: op.op, ok: false, error: { code, message: err.message, details: { errno: err.errno, ...err.details } } }
  }
}

/**
 * Applies a list of ops in order. `atomic`: first on a private copy; if any op fails nothing is
 * applied (state and event stream untouched) and the reply names the op; otherwise the same ops run
 * on the real state. `continue`: every op is tried, failures are reported and leave no trace.
 */
export function applyBatch (sim: Simulator, ops: Op[], mode: BatchMode, clone: () => Simulator): BatchResult {
  if (mode === 'atomic') {
    const dry = clone()
    for (let i = 0; i < ops.length; i++) {
      const o = outcome(i, ops[i], () => applyOp(dry, ops[i]))
      if (!o.ok) return { applied: false, mode, results: [o], failed: 1, firstFailure: o, probes: { same: [], unmapped: [], labels: {} } }
    }
  }
  const probes = new Map<string, number | null>()
  const results = ops.map((op, i) => outcome(i, op, () => applyOp(sim, op, probes)))
  const failed = results.filter((r) => !r.ok).length
  const groups = new Map<number | null, string[]>()
  for (const [label, pfn] of probes) groups.set(pfn, [...(groups.get(pfn) ?? []), label])
  return {
    applied: true,
    mode,
    results,
    failed,
    probes: {
      same: [...groups.entries()].filter(([p]) => p !== null).map(([, g]) => g.sort()).sort((a, b) => (a.join() < b.join() ? -1 : 1)),
      unmapped: (groups.get(null) ?? []).sort(),
      labels: Object.fromEntries(probes)
    }
  }
}
