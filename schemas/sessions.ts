import { z } from 'zod'
import { KERNEL_VERSIONS } from '../src/sim/index.js'
import { SnapshotSchema } from './snapshot.js'

export const KernelVersionSchema = z.enum(KERNEL_VERSIONS).meta({ description: 'Kernel model: 2.6.11 (the object-based rmap of the diagram) or 6.18 (anon_vma_chain, interval trees)' })

export const Limits = z.object({
  maxProcesses: z.number().int().min(1).optional(),
  maxVmasPerProcess: z.number().int().min(1).optional(),
  maxFrames: z.number().int().min(16).optional(),
  maxFiles: z.number().int().min(1).optional(),
  maxFilePages: z.number().int().min(1).optional(),
  maxSwapSlots: z.number().int().min(1).optional()
}).strict()

export const CreateSessionBody = z.object({
  kernel: KernelVersionSchema.optional().meta({ description: 'Default 2.6.11; with a snapshot, the snapshot\'s model' }),
  limits: Limits.optional(),
  snapshot: SnapshotSchema.optional().meta({ description: 'Restore this state exactly (GET /snapshot of a session)' })
}).strict().meta({ examples: [{ kernel: '6.18' }] })

const LimitsOut = z.object({
  maxProcesses: z.number(), maxVmasPerProcess: z.number(), maxFrames: z.number(), maxFiles: z.number(), maxFilePages: z.number(), maxSwapSlots: z.number()
})

export const SessionSummary = z.object({
  id: z.string(),
  kernel: KernelVersionSchema,
  createdAt: z.string(),
  lastUsedAt: z.string(),
  expiresAt: z.string(),
  requests: z.number().int(),
  counts: z.object({
    processes: z.number().int(),
    vmas: z.number().int(),
    files: z.number().int(),
    anonVmas: z.number().int(),
    framesInUse: z.number().int(),
    framesByKind: z.record(z.string(), z.number().int()),
    swapSlotsUsed: z.number().int(),
    events: z.number().int()
  }),
  limits: LimitsOut
}).meta({ id: 'SessionSummary' })

export const CreatedSession = SessionSummary.extend({
  token: z.string().meta({ description: 'Bearer token for every route of this session. Shown only once.' })
})

export const SessionList = z.object({ sessions: z.array(SessionSummary), maxSessions: z.number().int() })
