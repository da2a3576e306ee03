import { useEffect, useState } from 'preact/hooks'
import { ok, sid, type Kernel } from '../api'
import { useResource } from '../resource'
import { createSession, fire, leave, openSession } from '../actions'
import { busy, link, session, summary } from '../store'

/** Create a session or open one by id and token; once open: what it is, its stream, its token. */
export function SessionBar () {
  const [kernel, setKernel] = useState<Kernel>('6.18')
  const [id, setId] = useState('')
  const [token, setToken] = useState('')
  const [showToken, setShowToken] = useState(false)
  const live = session.value
  const s = summary.value
  const l = link.value

  if (live === null) {
    return (
      <section class='session-bar' aria-label='Session'>
        <form
          class='inline' onSubmit={(e) => { e.preventDefault(); fire(createSession(kernel)) }}
        >
          <label>Kernel model{' '}
            <select value={kernel} onChange={(e) => setKernel((e.target as HTMLSelectElement).value as Kernel)}>
              <option value='6.18'>6.18 (anon_vma_chain)</option>
              <option value='2.6.11'>2.6.11 (object-based rmap)</option>
            </select>
          </label>
          <button type='submit' disabled={busy.value}>New session</button>
        </form>
        <form
          class='inline' aria-label='Open an existing session'
          onSubmit={(e) => { e.preventDefault(); fire(openSession({ id: id.trim(), token: token.trim() })) }}
        >
          <label>Session id <input value={id} onInput={(e) => setId((e.target as HTMLInputElement).value)} required size={18} autoComplete='off' /></label>
          <label>Token <input type='password' value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} required size={24} autoComplete='off' /></label>
          <button type='submit' disabled={busy.value}>Open</button>
        </form>
      </section>
    )
  }
  return (
    <section class='session-bar' aria-label='Session'>
      <SummaryFeed />
      <span class='session-id'>Session <code data-testid='session-id'>{live.creds.id}</code></span>
      <span class='badge'>kernel {live.kernel}</span>
      {s !== null && (
        <span class='counts'>
          {s.counts.processes} processes · {s.counts.vmas} VMAs · {s.counts.framesInUse} frames in use · {s.counts.anonVmas} anon_vmas · {s.counts.swapSlotsUsed} swap slots
        </span>
      )}
      <span class={`link link-${l.state}`} role='status' aria-live='polite' data-testid='link-state'>
        {l.state === 'live' ? '● live' : l.state === 'connecting' ? '○ connecting' : '✕ not streaming'} (event {l.seq}){l.note !== undefined ? `: ${l.note}` : ''}
      </span>
      <button type='button' aria-pressed={showToken} onClick={() => setShowToken(!showToken)}>{showToken ? 'Hide token' : 'Show token'}</button>
      {showToken && <code class='token' aria-label='Session token'>{live.creds.token}</code>}
      <button type='button' onClick={() => { fire(leave()) }}>Close session</button>
    </section>
  )
}

/** Keeps the live session's summary (counts) current; it reads the live session even in the past. */
function SummaryFeed () {
  const r = useResource(async (api, c) => await ok(api.GET('/v1/sessions/{sid}', { params: { path: sid(c) } })), [], { live: true })
  useEffect(() => { if (r.data !== undefined) summary.value = r.data }, [r.data])
  return null
}
