import { decodePte, hex, type Cause, type PteLayout, type SimEvent } from '../sim/index.js'

/** Events as they go on the wire: hex addresses, decoded PTEs, the request id of their cause. */
export interface WireVma { id: number, start: string, end: string, pgoff: number, flags: number }

const vma = (v: NonNullable<SimEvent['vma']>): WireVma => ({ id: v.id, start: hex(v.start), end: hex(v.end), pgoff: v.pgoff, flags: v.flags })

export function eventToWire (e: SimEvent, layout?: PteLayout): Record<string, unknown> {
  return JSON.parse(eventJson(e, layout)) as Record<string, unknown>
}

/** One cause is shared by every event of an operation: its JSON is built once. */
const causeCache = new WeakMap<Cause, string>()
function causeJson (c: Cause): string {
  let s = causeCache.get(c)
  if (s === undefined) {
    s = JSON.stringify({ op: c.op, path: c.path, pid: c.pid, requestId: c.tag })
    causeCache.set(c, s)
  }
  return s
}

const WIRE = Symbol('wire')
type CachedEvent = SimEvent & { [WIRE]?: { layout: PteLayout | undefined, json: string } }

/**
 * The event's JSON, built once however many subscribers receive it (kept on the event itself), by
 * concatenation: the stream's hot path, a few microseconds an event. PTEs are shown in the session
 * kernel's layout.
 */
export function eventJson (ev: SimEvent, layout?: PteLayout): string {
  const e = ev as CachedEvent
  const cached = e[WIRE]
  if (cached !== undefined && cached.layout === layout) return cached.json
  let s = '{"seq":' + String(e.seq) + ',"type":"' + e.type + '","cause":' + causeJson(e.cause)
  if (e.pid !== undefined) s += ',"pid":' + String(e.pid)
  if (e.addr !== undefined) s += ',"addr":"' + hex(e.addr) + '"'
  if (e.before !== undefined) s += ',"before":' + JSON.stringify(decodePte(e.before, layout))
  if (e.after !== undefined) s += ',"after":' + JSON.stringify(decodePte(e.after, layout))
  if (e.pfn !== undefined) s += ',"pfn":' + String(e.pfn)
  if (e.kind !== undefined) s += ',"kind":' + JSON.stringify(e.kind)
  if (e.vma !== undefined) s += ',"vma":' + JSON.stringify(vma(e.vma))
  if (e.other !== undefined) s += ',"other":' + JSON.stringify(vma(e.other))
  if (e.parent !== undefined) s += ',"parent":' + String(e.parent)
  if (e.child !== undefined) s += ',"child":' + String(e.child)
  if (e.anonVma !== undefined) s += ',"anonVma":' + String(e.anonVma)
  s += '}'
  e[WIRE] = { layout, json: s }
  return s
}
