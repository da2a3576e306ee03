import { z } from 'zod'
import { AddressIn, AddressQuery } from './common.js'

const csv = <T extends z.ZodType>(item: T) => z.string().max(8192).transform((s, ctx) => {
  const parts = s.split(',').map((p) => p.trim()).filter((p) => p.length > 0)
  const out: Array<z.output<T>> = []
  for (const p of parts) {
    const r = item.safeParse(p)
    if (!r.success) { ctx.addIssue({ code: 'custom', message: `"${p}": ${r.error.issues[0]?.message ?? 'invalid'}` }); return z.NEVER }
    out.push(r.data)
  }
  return out
})

const EventType = z.string().regex(/^[a-z_]+(\.[a-z_]+)?$/, 'an event type like "pte.set" or a prefix like "pte"')

export const EventsQuery = z.object({
  since: z.coerce.number().int().min(0).optional().meta({ description: 'Replay the history after this sequence number' }),
  pid: csv(z.coerce.number().int().min(1)).optional().meta({ description: 'Comma-separated pids' }),
  pfn: csv(z.coerce.number().int().min(0)).optional().meta({ description: 'Comma-separated PFNs' }),
  from: AddressQuery.optional(),
  to: AddressQuery.optional(),
  types: csv(EventType).optional().meta({ description: 'Comma-separated types or prefixes: pte, pte.set, frame, vma, process, anon_vma' }),
  token: z.string().max(256).optional().meta({ description: 'The session token, for browsers that cannot set headers' })
})

export const ClientFilter = z.object({
  pids: z.array(z.number().int().min(1)).max(1024).optional(),
  pfns: z.array(z.number().int().min(0)).max(1024).optional(),
  from: AddressIn.optional(),
  to: AddressIn.optional(),
  types: z.array(EventType).max(64).optional()
}).strict()

export const ClientMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('subscribe'), filter: ClientFilter }).strict(),
  z.object({ type: z.literal('ping') }).strict()
])
