import { decodePte, hex, type SimEvent } from '../sim/index.js'

/** Events as they go on the wire: hex addresses, decoded PTEs, the request id of their cause. */
export interface WireVma { id: number, start: string, end: string, pgoff: number, flags: number }

const vma = (v: NonNullable<SimEvent['vma']>): WireVma => ({ id: v.id, start: hex(v.start), end: hex(v.end), pgoff: v.pgoff, flags: v.flags })

export function eventToWire (e: SimEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {
    seq: e.seq,
    type: e.type,
    cause: { op: e.cause.op, path: e.cause.path, pid: e.cause.pid, requestId: e.cause.tag }
  }
  if (e.pid !== undefined) out.pid = e.pid
  if (e.addr !== undefined) out.addr = hex(e.addr)
  if (e.before !== undefined) out.before = decodePte(e.before)
  if (e.after !== undefined) out.after = decodePte(e.after)
  if (e.pfn !== undefined) out.pfn = e.pfn
  if (e.kind !== undefined) out.kind = e.kind
  if (e.vma !== undefined) out.vma = vma(e.vma)
  if (e.other !== undefined) out.other = vma(e.other)
  if (e.parent !== undefined) out.parent = e.parent
  if (e.child !== undefined) out.child = e.child
  if (e.anonVma !== undefined) out.anonVma = e.anonVma
  return out
}

const cache = new WeakMap<SimEvent, string>()

/** The event's JSON, built once however many subscribers receive it. */
export function eventJson (e: SimEvent): string {
  let s = cache.get(e)
  if (s === undefined) {
    s = JSON.stringify(eventToWire(e))
    cache.set(e, s)
  }
  return s
}
