import { z } from 'zod'
import { KERNEL_VERSIONS } from './models/kernel-model.js'

/**
 * The versioned snapshot (snapshot.ts) as a zod schema: the Snapshot type is derived from it, and
 * POST /v1/sessions checks a restore's shape with it before the engine checks its consistency.
 */
// The wire names are kept from version 1 of the format: a VMA's `file` is the id of its address_space
// (Vma.mapping) and `fileHandle` its struct file (Vma.file); counters.nextFileHandle is nextFileId.
export const SNAPSHOT_FORMAT = 'rmap-sim-snapshot'
export const SNAPSHOT_VERSION = 1

const Int = z.number().int()
const NonNeg = Int.min(0)
const Pair = z.tuple([NonNeg, NonNeg])

/**
 * The 2.6.11 priority search tree of an i_mmap, flat: nodes by index, each with its VMA ids (the
 * tree node's VMA, then its vm_set list) and the indexes of its children.
 */
export const ImmapTree = z.object({
  indexBits: Int.min(1).max(53),
  root: NonNeg.nullable(),
  nodes: z.array(z.object({ ids: z.array(NonNeg).min(1), left: NonNeg.nullable(), right: NonNeg.nullable() }).strict())
}).strict()
export type ImmapTreeWire = z.infer<typeof ImmapTree>

export const SnapshotSchema = z.object({
  format: z.literal(SNAPSHOT_FORMAT),
  version: z.literal(SNAPSHOT_VERSION),
  kernel: z.enum(KERNEL_VERSIONS),
  limits: z.object({ maxProcesses: NonNeg, maxVmasPerProcess: NonNeg, maxFrames: NonNeg, maxFiles: NonNeg, maxFilePages: NonNeg, maxSwapSlots: NonNeg }).strict(),
  counters: z.object({ nextPid: NonNeg, nextVmaId: NonNeg, nextAnonVmaId: NonNeg, nextSpaceId: NonNeg, nextFileHandle: NonNeg, eventSeq: NonNeg }).strict(),
  frames: z.object({ next: NonNeg, free: z.array(NonNeg), pages: z.array(z.tuple([NonNeg, NonNeg, NonNeg, Int.min(-1), NonNeg, NonNeg])) }).strict(),
  swap: z.object({ next: NonNeg, freed: z.array(NonNeg), map: z.array(Pair), cache: z.array(Pair) }).strict(),
  spaces: z.array(z.object({ id: NonNeg, name: z.string().max(255), kind: z.enum(['file', 'shmem']), pages: NonNeg, named: z.boolean(), cache: z.array(Pair), immap: z.array(NonNeg), immapTree: ImmapTree.optional(), swapped: z.array(Pair).optional() }).strict()),
  anonVmas: z.array(z.object({ id: NonNeg, root: NonNeg, parent: NonNeg, numChildren: Int, numActiveVmas: Int, refcount: Int, pages: Int, vmas: z.array(NonNeg), tree: z.array(NonNeg) }).strict()),
  processes: z.array(z.object({
    pid: NonNeg,
    parent: NonNeg.nullable(),
    name: z.string().max(64).nullable(),
    rss: z.object({ anon: Int, file: Int, shmem: Int, swap: Int }).strict(),
    freeAreaCache: NonNeg,
    pgd: NonNeg,
    tables: z.array(z.tuple([Int.min(1).max(3), Int.min(0).max(511), Int.min(0).max(511), Int.min(0).max(511), NonNeg])),
    ptes: z.array(z.tuple([NonNeg, NonNeg])),
    vmas: z.array(z.object({ id: NonNeg, start: NonNeg, end: NonNeg, pgoff: NonNeg, flags: NonNeg, file: NonNeg.nullable(), fileHandle: NonNeg, anonVma: NonNeg.nullable(), chain: z.array(NonNeg) }).strict())
  }).strict())
}).strict().meta({ id: 'Snapshot', description: 'The complete state of a session (versioned); POST it to /v1/sessions to restore it exactly' })

export type Snapshot = z.infer<typeof SnapshotSchema>
export type SnapshotProcess = Snapshot['processes'][number]
export type SnapshotVma = SnapshotProcess['vmas'][number]
