import { SimError } from './errors.js'
import { opDef, unknownOp, type Op } from './ops/index.js'
import type { JournalOp } from './ops/op.js'
import type { Simulator } from './simulator.js'

/**
 * Batches of ops in the vocabulary of the op table (ops/index.ts), for /ops, scenarios and journal
 * replays. Processes are named by `pid` or by `proc` (a name given at spawn or fork), so later ops can
 * refer to children created earlier.
 */

export interface OpOutcome {
  index: number
  op: string
  ok: boolean
  /** What the op returned (a process, a VMA, an access result, ...). */
  result?: unknown
  error?: { code: string, message: string, details?: Record<string, unknown> }
}

/**
 * Applies one op of the vocabulary; throws a SimError (state unchanged) when it fails, a signal
 * included (the process would be dead). A probe's frame is noted in `probes`.
 */
export function applyOp (sim: Simulator, op: Op | JournalOp, probes?: Map<string, number | null>): unknown {
  const def = opDef(op.op)
  if (def === undefined) throw unknownOp(op.op)
  const result = sim.run(def, op)
  const failure = def.failure?.(result)
  if (failure !== undefined) throw failure
  if (probes !== undefined && op.op === 'probe') {
    const p = result as { as: string, pfn: number | null }
    probes.set(p.as, p.pfn)
  }
  return result
}

/**
 * Runs a journaled op again (a recovery replaying the durable journal): it changed the state when it
 * ran, so it does here too, whatever signal it ended with; anything thrown means the journal and the
 * engine disagree.
 */
export function replayJournalOp (sim: Simulator, op: JournalOp): void {
  const def = opDef(op.op)
  if (def === undefined) throw unknownOp(op.op)
  sim.run(def, op)
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

function outcome (index: number, op: Op | JournalOp, fn: () => unknown): OpOutcome {
  try {
    return { index, op: op.op, ok: true, result: fn() }
  } catch (err) {
    if (!(err instanceof SimError)) throw err
    return { index, op: op.op, ok: false, error: { code: err.code, message: err.message, details: { errno: err.errno, ...err.details } } }
  }
}

/** Probe labels grouped by the frame they saw: groups that saw a frame, and the labels that saw none. */
export function groupProbes (probes: Map<string, number | null>): { same: string[][], unmapped: string[] } {
  const groups = new Map<number | null, string[]>()
  for (const [label, pfn] of probes) groups.set(pfn, [...(groups.get(pfn) ?? []), label])
  return {
    same: [...groups.entries()].filter(([p]) => p !== null).map(([, g]) => g.sort()).sort((a, b) => (a.join() < b.join() ? -1 : 1)),
    unmapped: (groups.get(null) ?? []).sort()
  }
}

/**
 * Applies a list of ops in order. `atomic`: first on a private copy; if any op fails nothing is
 * applied (state and event stream untouched) and the reply names the op; otherwise the same ops run
 * on the real state. `continue`: every op is tried, failures are reported and leave no trace.
 */
export function applyBatch (sim: Simulator, ops: ReadonlyArray<Op | JournalOp>, mode: BatchMode, clone: () => Simulator): BatchResult {
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
  return { applied: true, mode, results, failed, probes: { ...groupProbes(probes), labels: Object.fromEntries(probes) } }
}
