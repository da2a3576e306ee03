import { z } from 'zod'
import { pteMapped, ptePfn, type SimEvent } from '../sim/index.js'

/** What a subscriber wants: pids, PFNs, an address range, event types (or their prefixes: "pte", "vma"). */
export const EventFilterSchema = z.object({
  pids: z.array(z.number().int().min(1)).max(1024).optional(),
  pfns: z.array(z.number().int().min(0)).max(1024).optional(),
  from: z.number().int().min(0).optional(),
  to: z.number().int().min(0).optional(),
  types: z.array(z.string().regex(/^[a-z_]+(\.[a-z_]+)?$/)).max(64).optional()
}).strict()

export type EventFilter = z.infer<typeof EventFilterSchema>

const pfnOf = (pte: number | undefined): number | undefined => (pte !== undefined && pteMapped(pte) ? ptePfn(pte) : undefined)

/** Compiles a filter to a predicate; an empty filter matches everything. */
export function compileFilter (f: EventFilter): (e: SimEvent) => boolean {
  const pids = f.pids === undefined ? undefined : new Set(f.pids)
  const pfns = f.pfns === undefined ? undefined : new Set(f.pfns)
  const types = f.types === undefined ? undefined : new Set(f.types)
  const from = f.from ?? 0
  const to = f.to ?? Number.MAX_SAFE_INTEGER
  const ranged = f.from !== undefined || f.to !== undefined
  return (e) => {
    if (types !== undefined && !types.has(e.type) && !types.has(e.type.slice(0, e.type.indexOf('.')))) return false
    if (pids !== undefined) {
      const pid = e.pid ?? e.cause.pid
      if (pid === undefined || (!pids.has(pid) && !(e.child !== undefined && pids.has(e.child)))) return false
    }
    if (pfns !== undefined) {
      const hit = (e.pfn !== undefined && pfns.has(e.pfn)) || pfns.has(pfnOf(e.before) ?? -1) || pfns.has(pfnOf(e.after) ?? -1)
      if (!hit) return false
    }
    if (ranged) {
      if (e.addr !== undefined) return e.addr >= from && e.addr < to
      if (e.vma !== undefined) return e.vma.start < to && e.vma.end > from
      return false
    }
    return true
  }
}
