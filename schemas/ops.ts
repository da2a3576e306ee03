import { z } from 'zod'
import type { AccessResult, OpOutcome, ProcessView, VmaView } from '../src/sim/index.js'
import { hexAddresses, toHex } from './common.js'
import { accessOut } from './memory.js'
import { processOut, vmaOut } from './processes.js'

/** The batch vocabulary (src/sim/ops.ts) as zod schemas; a superset of the conformance scenario format. */
const Addr = z.union([z.string().regex(/^0x[0-9a-fA-F]{1,16}$/, 'an address is a hex string like "0x10000000" or an integer'), z.number().int().nonnegative().max(2 ** 53)])
const Pages = z.number().int().min(1).max(2 ** 36)
const Name = z.string().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/)
const Ref = { pid: z.number().int().min(1).optional(), proc: Name.optional() }
const Prot = z.string().regex(/^(none|r?w?x?)$/)
const Pfn = z.number().int().min(0).max(2 ** 40)

export const OpSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('createFile'), name: z.string().min(1).max(255), pages: Pages }).strict(),
  z.object({ op: z.literal('spawn'), name: Name.optional(), ...Ref }).strict(),
  z.object({ op: z.literal('fork'), child: Name.optional(), name: Name.optional(), ...Ref }).strict(),
  z.object({ op: z.literal('exit'), ...Ref }).strict(),
  z.object({
    op: z.literal('mmap'),
    addr: Addr.optional(),
    fixed: z.enum(['noreplace', 'replace', 'hint']).optional(),
    pages: Pages,
    prot: Prot.optional(),
    shared: z.boolean().optional(),
    kind: z.enum(['anon', 'file']).optional(),
    file: z.string().min(1).max(255).optional(),
    offset: z.number().int().min(0).max(2 ** 36).optional(),
    ...Ref
  }).strict(),
  z.object({ op: z.literal('munmap'), addr: Addr, pages: Pages, ...Ref }).strict(),
  z.object({ op: z.literal('dontneed'), addr: Addr, pages: Pages, ...Ref }).strict(),
  z.object({ op: z.literal('madvise'), addr: Addr, pages: Pages, advice: z.enum(['dontneed']), ...Ref }).strict(),
  z.object({ op: z.literal('mprotect'), addr: Addr, pages: Pages, prot: Prot, ...Ref }).strict(),
  z.object({ op: z.literal('mremap'), addr: Addr, pages: Pages, newPages: Pages, newAddr: Addr.optional(), mayMove: z.boolean().optional(), ...Ref }).strict(),
  z.object({ op: z.literal('read'), addr: Addr, ...Ref }).strict(),
  z.object({ op: z.literal('write'), addr: Addr, ...Ref }).strict(),
  z.object({ op: z.literal('exec'), addr: Addr, ...Ref }).strict(),
  z.object({ op: z.literal('referenced'), pfn: Pfn }).strict(),
  z.object({ op: z.literal('unmap'), pfn: Pfn }).strict(),
  z.object({ op: z.literal('mkclean'), pfn: Pfn }).strict(),
  z.object({ op: z.literal('migrate'), pfn: Pfn }).strict(),
  z.object({ op: z.literal('evict'), file: z.string().min(1).max(255) }).strict(),
  z.object({ op: z.literal('probe'), addr: Addr, as: z.string().min(1).max(128), ...Ref }).strict()
])

export const makeOpsBody = (maxOps: number) => z.object({
  mode: z.enum(['atomic', 'continue']).default('atomic'),
  /** Scenario files: created before the first op (the conformance format). */
  files: z.record(z.string().min(1).max(255), z.object({ pages: Pages }).strict()).optional(),
  name: z.string().max(256).optional(),
  description: z.string().max(4096).optional(),
  window: z.tuple([z.number(), z.number()]).optional(),
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
