import { z } from 'zod'
import { InvalidArgumentError } from '../errors.js'
import { execOp, readOp, writeOp } from './access.js'
import { createFileOp } from './create-file.js'
import { exitOp } from './exit.js'
import { Pages } from './fields.js'
import { forkOp } from './fork.js'
import { migrateOp, mkcleanOp, referencedOp, unmapOp } from './frame-ops.js'
import { evictOp } from './evict.js'
import { writebackOp } from './writeback.js'
import { doforkOp, dontforkOp, dontneedOp, freeOp, keeponforkOp, madviseOp, pageoutOp, populateOp, wipeonforkOp } from './madvise.js'
import { mlockOp, munlockOp } from './mlock.js'
import { mmapOp } from './mmap.js'
import { mprotectOp } from './mprotect.js'
import { mremapOp } from './mremap.js'
import { munmapOp } from './munmap.js'
import { erase, type OpDef } from './op.js'
import { probeOp } from './probe.js'
import { spawnOp } from './spawn.js'

/**
 * The table of operations. Everything else follows from it: the Simulator's commands, the batch
 * vocabulary (/ops), its zod schema and OpenAPI description, the scenario format and the journal.
 * A new operation is one more definition here.
 */
export const OPS = [
  createFileOp, spawnOp, forkOp, exitOp,
  mmapOp, munmapOp, dontneedOp, mprotectOp, mremapOp, madviseOp,
  pageoutOp, freeOp, dontforkOp, doforkOp, wipeonforkOp, keeponforkOp, populateOp, mlockOp, munlockOp,
  readOp, writeOp, execOp,
  referencedOp, unmapOp, mkcleanOp, migrateOp, evictOp, writebackOp,
  probeOp
] as const

export type AnyOpDef = typeof OPS[number]
export type OpName = AnyOpDef['name']
type DefNamed<N extends OpName> = Extract<AnyOpDef, { name: N }>
/** The fields a command takes (an op without its `op`). */
export type OpArgs<N extends OpName> = z.infer<DefNamed<N>['fields']>
/** What a command returns. */
export type OpResult<N extends OpName> = ReturnType<DefNamed<N>['apply']>

const BY_NAME = new Map<string, OpDef>(OPS.map((d) => [d.name, erase(d)]))

/** The definition of an op by name (undefined for a name that is not an op). */
export const opDef = (name: string): OpDef | undefined => BY_NAME.get(name)

const nonEmpty = <T>(items: readonly T[]): [T, ...T[]] => {
  if (items.length === 0) throw new Error('no ops')
  return items as [T, ...T[]]
}

/** One op of the vocabulary, as /ops, scenarios and the journal spell it. */
export const OpSchema = z.discriminatedUnion('op', nonEmpty(OPS.map((d) => d.schema))).meta({ id: 'Op' })
export type Op = z.infer<typeof OpSchema>

/**
 * The scenario format of shared/conformance (its README): files that exist before the first op, then
 * ops in the vocabulary above. /ops takes it as it is.
 */
export const ScenarioSchema = z.object({
  name: z.string().max(256).optional(),
  description: z.string().max(4096).optional(),
  files: z.record(z.string().min(1).max(255), z.object({ pages: Pages }).strict()).optional()
    .meta({ description: 'Files that exist before the first op (created in name order)' }),
  window: z.tuple([z.number(), z.number()]).optional(),
  ops: z.array(OpSchema)
})
export type Scenario = z.infer<typeof ScenarioSchema>

/** The op of a name that is not in the table is refused the same way everywhere. */
export function unknownOp (name: unknown, what = 'op'): InvalidArgumentError {
  return new InvalidArgumentError(`unknown ${what} "${String(name)}"`)
}
