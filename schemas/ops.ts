import { z } from 'zod'
import { OpSchema, ScenarioSchema, type AccessResult, type OpOutcome, type ProcessView, type VmaView } from '../src/sim/index.js'
import { hexAddresses, toHex } from './common.js'
import { accessOut } from './memory.js'
import { processOut, vmaOut } from './processes.js'

/**
 * /ops takes a scenario (shared/conformance's format, ScenarioSchema) and a mode; its ops are the op
 * table's vocabulary (src/sim/ops/index.ts), so a new op is accepted and documented here by itself.
 */
export const makeOpsBody = (maxOps: number) => ScenarioSchema.extend({
  mode: z.enum(['atomic', 'continue']).default('atomic'),
  ops: z.array(OpSchema).min(1).max(maxOps)
}).strict().meta({
  examples: [{ mode: 'atomic', ops: [{ op: 'spawn', proc: 'P' }, { op: 'mmap', proc: 'P', addr: '0x10000000', pages: 2, kind: 'anon' }, { op: 'write', proc: 'P', addr: '0x10000000' }, { op: 'fork', proc: 'P', child: 'C' }] }]
})

const Outcome = z.object({
  index: z.number().int(),
  op: z.string(),
  ok: z.boolean(),
  result: z.unknown().optional(),
  error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }).optional()
})

export const BatchReply = z.object({
  applied: z.boolean(),
  mode: z.enum(['atomic', 'continue']),
  failed: z.number().int(),
  files: z.array(Outcome).meta({ description: 'Creation of the scenario\'s files, before the ops' }),
  results: z.array(Outcome).meta({ description: 'One per op, numbered as in the request\'s ops[]' }),
  firstFailure: Outcome.optional(),
  probes: z.object({ same: z.array(z.array(z.string())), unmapped: z.array(z.string()), labels: z.record(z.string(), z.number().nullable()) }),
  processes: z.record(z.string(), z.number().int()).meta({ description: 'Live process names and their pids' })
})

export const JournalReply = z.object({
  kernel: z.string(),
  fromSnapshot: z.boolean().meta({ description: 'The session began from a snapshot: replay that first (POST /v1/sessions with it), then these ops' }),
  truncated: z.boolean(),
  ops: z.array(OpSchema)
})

/** An op's result on the wire: addresses in hex, as the single-operation routes give them. */
export function outcomeOut (o: OpOutcome): OpOutcome {
  if (!o.ok) return o.error === undefined ? o : { ...o, error: { ...o.error, details: hexAddresses(o.error.details) } }
  if (o.result === null || o.result === undefined) return o
  const r = o.result
  switch (o.op) {
    case 'spawn': case 'fork': return { ...o, result: processOut(r as ProcessView) }
    case 'mmap': return { ...o, result: vmaOut(r as VmaView) }
    case 'mremap': return { ...o, result: { addr: toHex((r as { addr: number }).addr) } }
    case 'read': case 'write': case 'exec': return { ...o, result: accessOut(r as AccessResult) }
    default: return o
  }
}
