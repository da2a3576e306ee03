/**
 * What the explorer does with the API: sessions, operations, scenarios, the journal and time travel.
 * Every failure is logged as the API gave it and leaves the explorer usable.
 */
import { batch } from '@preact/signals'
import { ApiFailure, apiClient, ok, sid, type Credentials, type Kernel, type Schemas } from './api'
import { LiveStream } from './live'
import type { OpSpec, Values } from './op-specs'
import { readFragment, scenarioFragment } from './scenario-link'
import { addLog, busy, journal, journalState, refresh, replay, resetSession, session, summary, viewCreds } from './store'

const STORAGE_KEY = 'rmap-sim.explorer.session'
/** Ops per replay request: well under the server's MAX_BATCH_OPS default (1,000). */
const REPLAY_CHUNK = 500

let stream: LiveStream | undefined

export function describeError (err: unknown): { summary: string, body: unknown, status?: number } {
  if (err instanceof ApiFailure) {
    const e = err.body.error
    const signal = e.code === 'segfault' ? 'SIGSEGV — ' : e.code === 'bus_error' ? 'SIGBUS — ' : ''
    return { summary: `${signal}${err.status} ${e.code}: ${e.message}`, body: err.body, status: err.status }
  }
  return { summary: err instanceof Error ? err.message : String(err), body: null }
}

/** Starts an action from an event handler: actions report their own failures; anything else is logged. */
export function fire (action: Promise<unknown>): void {
  action.catch((err: unknown) => { addLog({ title: 'explorer', ok: false, ...describeError(err) }) })
}

async function guarded<T> (title: string, fn: () => Promise<T>): Promise<T | undefined> {
  busy.value = true
  try {
    return await fn()
  } catch (err) {
    addLog({ title, ok: false, ...describeError(err) })
    return undefined
  } finally {
    busy.value = false
  }
}

async function begin (creds: Credentials, s: Schemas['SessionSummary']): Promise<void> {
  await leave()
  batch(() => {
    session.value = { creds, kernel: s.kernel, limits: s.limits }
    summary.value = s
  })
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(creds))
  stream = new LiveStream(creds)
  stream.start()
  await loadJournal()
}

/** Stops streaming, drops a replay, forgets the session (the session itself stays on the server). */
export async function leave (): Promise<void> {
  stream?.stop()
  stream = undefined
  await dropReplay()
  resetSession()
  sessionStorage.removeItem(STORAGE_KEY)
}

export async function createSession (kernel: Kernel): Promise<void> {
  await guarded('create session', async () => {
    const created = await ok(apiClient().POST('/v1/sessions', { body: { kernel } }))
    const creds = { id: created.id, token: created.token }
    await begin(creds, created)
    addLog({ title: 'create session', ok: true, summary: `session ${created.id} (${created.kernel}); its token is shown in the session bar`, body: { ...created, token: '(hidden)' } })
  })
}

export async function openSession (creds: Credentials): Promise<boolean> {
  const s = await guarded('open session', async () => await ok(apiClient(creds).GET('/v1/sessions/{sid}', { params: { path: sid(creds) } })))
  if (s === undefined) return false
  await begin(creds, s)
  addLog({ title: 'open session', ok: true, summary: `session ${s.id} (${s.kernel})`, body: s })
  return true
}

/** On page load: a shared scenario in the link, else the session this tab had open. */
export async function startUp (): Promise<void> {
  try {
    const shared = await readFragment(location.hash)
    if (shared !== null) {
      history.replaceState(null, '', location.pathname)
      await createSession(shared.kernel)
      for (let i = 0; session.value !== null && i < shared.ops.length; i += REPLAY_CHUNK) {
        if (!await applyOps(shared.ops.slice(i, i + REPLAY_CHUNK), `open shared scenario (ops ${i + 1}–${Math.min(shared.ops.length, i + REPLAY_CHUNK)})`)) break
      }
      return
    }
  } catch (err) {
    addLog({ title: 'open shared scenario', ok: false, ...describeError(err) })
  }
  const saved = sessionStorage.getItem(STORAGE_KEY)
  if (saved !== null) {
    try { await openSession(JSON.parse(saved) as Credentials) } catch { sessionStorage.removeItem(STORAGE_KEY) }
  }
}

export async function runOp (spec: OpSpec, values: Values): Promise<void> {
  const live = session.value
  if (live === null) return
  const title = `${spec.label} ${spec.fields.map((f) => values[f.name] === undefined || values[f.name] === '' ? '' : `${f.name}=${values[f.name]}`).filter(Boolean).join(' ')}`
  await guarded(title, async () => {
    const reply = await spec.run(apiClient(live.creds), live.creds, values)
    addLog({ title, ok: true, summary: spec.summarize(reply as never), body: reply })
  })
  await afterChange()
}

/** A scenario as /ops takes it: a list of ops, or an object with ops (and files). */
export function parseScenario (text: string): { ops: Array<Schemas['Op']>, files?: Record<string, { pages: number }> } {
  let v: unknown
  try { v = JSON.parse(text) } catch (err) { throw new Error(`not JSON: ${err instanceof Error ? err.message : String(err)}`) }
  if (Array.isArray(v)) return { ops: v as Array<Schemas['Op']> }
  if (typeof v === 'object' && v !== null && Array.isArray((v as { ops?: unknown }).ops)) {
    const s = v as { ops: Array<Schemas['Op']>, files?: Record<string, { pages: number }> }
    return { ops: s.ops, files: s.files }
  }
  throw new Error('a scenario is a list of ops or an object with "ops"')
}

export async function applyScenarioText (text: string, mode: 'atomic' | 'continue'): Promise<void> {
  let parsed: ReturnType<typeof parseScenario>
  try { parsed = parseScenario(text) } catch (err) {
    addLog({ title: 'scenario', ok: false, ...describeError(err) })
    return
  }
  await applyOps(parsed.ops, 'scenario', mode, parsed.files)
}

/** Applies ops through /ops; true when every op was applied. */
async function applyOps (ops: Array<Schemas['Op']>, title: string, mode: 'atomic' | 'continue' = 'atomic', files?: Record<string, { pages: number }>): Promise<boolean> {
  const live = session.value
  if (live === null) return false
  const applied = await guarded(title, async () => {
    const r = await ok(apiClient(live.creds).POST('/v1/sessions/{sid}/ops', { params: { path: sid(live.creds) }, body: { ops, mode, files } }))
    const failure = r.firstFailure
    addLog({
      title: `${title}: ${ops.length} op(s)`,
      ok: r.failed === 0,
      summary: failure === undefined ? `applied ${r.results.length} op(s)` : `op ${failure.index} (${failure.op}) failed: ${failure.error?.code ?? ''} ${failure.error?.message ?? ''}${r.applied ? '' : '; nothing was applied'}`,
      body: r
    })
    return r.failed === 0
  })
  await afterChange()
  return applied === true
}

async function afterChange (): Promise<void> {
  await loadJournal()
  refresh()
}

export async function loadJournal (): Promise<void> {
  const live = session.value
  if (live === null) return
  try {
    const j = await ok(apiClient(live.creds).GET('/v1/sessions/{sid}/journal', { params: { path: sid(live.creds) } }))
    batch(() => {
      journal.value = j.ops
      journalState.value = { fromSnapshot: j.fromSnapshot, truncated: j.truncated }
    })
  } catch (err) {
    addLog({ title: 'journal', ok: false, ...describeError(err) })
  }
}

/**
 * Shows the state after the first `at` ops of the journal: a session of its own with the same kernel
 * and limits replays them (the engine is deterministic, so PFNs and ids are the live session's).
 * Stepping forward applies only the ops in between; stepping back starts the replay again.
 */
export async function travelTo (at: number): Promise<void> {
  const live = session.value
  if (live === null) return
  const ops = journal.value
  if (at >= ops.length) { await backToLive(); return }
  await guarded(`state after op ${at}`, async () => {
    const shown = replay.value
    let r = shown
    // Going back needs a new replay; the one on screen stays until the new one is ready, so no view
    // ever reads a session that is being deleted.
    if (r === null || r.at > at) {
      const created = await ok(apiClient().POST('/v1/sessions', { body: { kernel: live.kernel, limits: live.limits } }))
      r = { creds: { id: created.id, token: created.token }, at: 0 }
    }
    const api = apiClient(r.creds)
    for (let i = r.at; i < at; i += REPLAY_CHUNK) {
      const chunk = ops.slice(i, Math.min(at, i + REPLAY_CHUNK))
      const reply = await ok(api.POST('/v1/sessions/{sid}/ops', { params: { path: sid(r.creds) }, body: { ops: chunk } }))
      if (reply.failed > 0) throw new Error(`the journal did not replay: op ${i + (reply.firstFailure?.index ?? 0)} failed (${reply.firstFailure?.error?.message ?? ''})`)
    }
    replay.value = { creds: r.creds, at }
    if (shown !== null && shown.creds.id !== r.creds.id) await deleteSession(shown.creds)
  })
  refresh()
}

export async function backToLive (): Promise<void> {
  await dropReplay()
  refresh()
}

async function dropReplay (): Promise<void> {
  const r = replay.value
  replay.value = null
  if (r !== null) await deleteSession(r.creds)
}

async function deleteSession (c: Credentials): Promise<void> {
  try { await apiClient(c).DELETE('/v1/sessions/{sid}', { params: { path: sid(c) } }) } catch { /* gone already */ }
}

/** The replay session is the explorer's own: it goes when the page does. */
export function dropReplayOnUnload (): void {
  const r = replay.value
  if (r === null) return
  // keepalive: the request outlives the page.
  apiClient(r.creds).DELETE('/v1/sessions/{sid}', { params: { path: sid(r.creds) }, keepalive: true }).catch(() => { /* it expires anyway */ })
}

/** A link that recreates this session's journal in a new session. */
export async function shareLink (): Promise<string | undefined> {
  const live = session.value
  if (live === null) return undefined
  await loadJournal()
  return location.origin + location.pathname + await scenarioFragment({ kernel: live.kernel, ops: journal.value })
}

/** Runs a traced rmap operation on the viewed session's frame and returns its reply. */
export async function tracedFrameOp (kind: 'referenced' | 'unmap', pfn: number): Promise<Schemas['Rmap']['trace'] | undefined> {
  const c = viewCreds.value
  if (c === null) return undefined
  const params = { path: { ...sid(c), pfn: String(pfn) }, query: { trace: 'true' as const } }
  const title = `${kind === 'referenced' ? 'page_referenced' : 'try_to_unmap'} pfn=${pfn} (traced)`
  const reply = await guarded(title, async () => kind === 'referenced'
    ? await ok(apiClient(c).POST('/v1/sessions/{sid}/frames/{pfn}/referenced', { params }))
    : await ok(apiClient(c).POST('/v1/sessions/{sid}/frames/{pfn}/unmap', { params })))
  if (reply === undefined) return undefined
  const { trace, ...rest } = reply
  addLog({ title, ok: true, summary: JSON.stringify(rest), body: reply })
  await afterChange()
  return trace
}
