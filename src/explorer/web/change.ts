import type { Change } from './store'
import type { SimEvent } from './wire'

const FRAME_MARK: Record<string, string> = { 'frame.allocated': 'new', 'frame.freed': 'freed' }

/** What one operation's events changed, and a sentence about it. */
export function changeOf (list: SimEvent[]): Change | null {
  if (list.length === 0) return null
  const first = list[0]
  const c: Change = {
    first: first.seq,
    last: list[list.length - 1].seq,
    op: first.cause.op,
    path: first.cause.path,
    pid: first.cause.pid,
    pfns: new Map(),
    ptes: new Set(),
    pids: new Set(),
    vmas: new Set(),
    text: ''
  }
  let ptes = 0
  for (const e of list) {
    if (e.pid !== undefined) c.pids.add(e.pid)
    if (e.type.startsWith('pte.')) {
      ptes++
      if (e.pid !== undefined && e.addr !== undefined) c.ptes.add(`${e.pid}:${e.addr}`)
      for (const pte of [e.before, e.after]) {
        if (pte?.pfn !== undefined && !c.pfns.has(pte.pfn)) c.pfns.set(pte.pfn, 'PTE changed')
      }
    }
    if (e.pfn !== undefined && FRAME_MARK[e.type] !== undefined) c.pfns.set(e.pfn, FRAME_MARK[e.type])
    if (e.vma !== undefined && e.pid !== undefined) c.vmas.add(`${e.pid}:${e.vma.id}`)
    if (e.other !== undefined && e.pid !== undefined) c.vmas.add(`${e.pid}:${e.other.id}`)
    if (e.child !== undefined) c.pids.add(e.child)
  }
  const who = c.pid !== undefined ? ` by pid ${c.pid}` : ''
  const path = c.path !== undefined && c.path !== 'none' ? ` (${c.path})` : ''
  const frames = [...c.pfns].filter(([, m]) => m !== 'PTE changed').map(([pfn, m]) => `${m} frame ${pfn}`)
  c.text = `${c.op}${who}${path}: ${ptes} PTE change${ptes === 1 ? '' : 's'}${frames.length > 0 ? ', ' + frames.join(', ') : ''} (events ${c.first}–${c.last})`
  return c
}
