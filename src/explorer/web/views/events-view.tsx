import { pteText } from '../format'
import { events, eventsVersion, lastChange } from '../store'
import { VirtualList } from '../virtual-list'
import type { SimEvent } from '../wire'

/** The session's live events, newest first; the last operation's are marked. */
export function EventsView () {
  const version = eventsVersion.value
  const list = events
  const change = lastChange.value
  const n = list.length
  return (
    <div class='events-view'>
      <p class='meta' role='status' data-version={version}>{n} event(s) received{change !== null ? `; last operation: ${change.text}` : ''}</p>
      <VirtualList
        label='Events, newest first' count={n} rowHeight={26} rowKey={(i) => list[n - 1 - i].seq} class='events-list'
        renderRow={(i) => {
          const e = list[n - 1 - i]
          const inLast = change !== null && e.seq >= change.first && e.seq <= change.last
          return <div class={`event-row ${inLast ? 'changed' : ''}`} data-testid='event'><span data-primary tabIndex={-1}>{eventText(e)}</span></div>
        }}
      />
    </div>
  )
}

export function eventText (e: SimEvent): string {
  const cause = `${e.cause.op}${e.cause.path !== undefined && e.cause.path !== 'none' ? `/${e.cause.path}` : ''}`
  const where = `${e.pid !== undefined ? ` pid ${e.pid}` : ''}${e.addr !== undefined ? ` ${e.addr}` : ''}`
  let what = ''
  if (e.type.startsWith('pte.')) what = ` ${pteText(e.before)} → ${pteText(e.after)}`
  else if (e.pfn !== undefined) what = ` PFN ${e.pfn}${e.kind !== undefined ? ` (${e.kind})` : ''}`
  else if (e.vma !== undefined) what = ` VMA #${e.vma.id} ${e.vma.start}–${e.vma.end}${e.other !== undefined ? ` / #${e.other.id} ${e.other.start}–${e.other.end}` : ''}`
  else if (e.child !== undefined) what = ` child ${e.child}`
  else if (e.anonVma !== undefined) what = ` anon_vma #${e.anonVma}`
  return `#${e.seq} ${e.type}${where}${what} [${cause}]`
}
