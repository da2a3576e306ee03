import { useEffect, useState } from 'preact/hooks'
import { backToLive, fire, shareLink, travelTo } from '../actions'
import { ok, sid } from '../api'
import { useResource } from '../resource'
import { busy, journal, journalState, replay, session } from '../store'
import { batch } from '@preact/signals'

/**
 * The session's journal as a time line: the state after op N, stepped back and forth (a replay
 * session holds it; the live session is untouched), and the whole journal as a link.
 */
export function Timeline () {
  const [shared, setShared] = useState<string | null>(null)
  if (session.value === null) return null
  return <TimelineBar shared={shared} setShared={setShared} />
}

function TimelineBar ({ shared, setShared }: { shared: string | null, setShared: (s: string) => void }) {
  useJournalFeed()
  const ops = journal.value
  const total = ops.length
  const r = replay.value
  const at = r?.at ?? total
  const js = journalState.value
  const blocked = js.fromSnapshot ? 'this session began from a snapshot: its journal starts there' : js.truncated ? 'the journal reached its limit and no longer replays the session' : null
  const go = (n: number): void => { fire(travelTo(Math.max(0, Math.min(total, n)))) }
  const opText = (i: number): string => {
    const op = ops[i] as Record<string, unknown> | undefined
    if (op === undefined) return ''
    return Object.entries(op).map(([k, v]) => k === 'op' ? String(v) : `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')
  }
  return (
    <section class={`timeline ${r !== null ? 'in-past' : ''}`} aria-label='Time line'>
      <h2 class='sr-only'>Time line</h2>
      {blocked !== null
        ? <p>Time travel is off: {blocked}.</p>
        : (
          <div class='inline'>
            <button type='button' onClick={() => go(0)} disabled={busy.value || at === 0} aria-label='Go to the start'>« Start</button>
            <button type='button' onClick={() => go(at - 1)} disabled={busy.value || at === 0} aria-label='One op back'>◀ Back</button>
            <label class='slider'>State after op
              <input
                type='range' min={0} max={total} value={at} disabled={busy.value}
                aria-valuetext={`after op ${at} of ${total}`}
                onChange={(e) => go(Number((e.target as HTMLInputElement).value))}
              />
            </label>
            <output data-testid='timeline-position'>{at} / {total}</output>
            <button type='button' onClick={() => go(at + 1)} disabled={busy.value || at >= total} aria-label='One op forward'>Forward ▶</button>
            <button type='button' onClick={() => { fire(backToLive()) }} disabled={busy.value || r === null}>Live »</button>
            <span class='timeline-op'>{at > 0 ? <>last op: <code>{opText(at - 1)}</code></> : 'before the first op'}</span>
          </div>
          )}
      {r !== null && <p class='past-note' role='status'>Viewing the past: the state after op {at} of {total} (read-only). Live events still arrive in the log.</p>}
      <div class='inline'>
        <button type='button' onClick={() => { fire(shareLink().then((u) => { if (u !== undefined) { setShared(u); navigator.clipboard?.writeText(u).catch(() => { /* the link is shown to copy by hand */ }) } })) }}>Share as link</button>
        {shared !== null && <input class='share-link' readOnly value={shared} aria-label='Link that recreates this session' onFocus={(e) => (e.target as HTMLInputElement).select()} />}
      </div>
    </section>
  )
}

/** Keeps the live session's journal current as operations arrive, from this page or any client. */
function useJournalFeed (): void {
  const r = useResource(async (api, c) => await ok(api.GET('/v1/sessions/{sid}/journal', { params: { path: sid(c) } })), [], { live: true })
  useEffect(() => {
    const j = r.data
    if (j === undefined) return
    batch(() => {
      journal.value = j.ops
      journalState.value = { fromSnapshot: j.fromSnapshot, truncated: j.truncated }
    })
  }, [r.data])
}
