/**
 * The explorer's state, as Preact signals: the session being explored, the session the views read
 * (the live one, or a replay of its journal when looking at the past), what the last operation
 * changed, and the logs. Views refetch when `tick` moves; refresh() moves it at most every 200 ms,
 * so a burst of events costs one round of requests.
 */
import { batch, computed, signal } from '@preact/signals'
import type { Credentials, Kernel, Schemas } from './api'
import type { SimEvent } from './wire'

export interface LiveSession { creds: Credentials, kernel: Kernel, limits: Schemas['SessionSummary']['limits'] }
/** A replay of the first `at` ops of the journal, in a session of its own. */
export interface Replay { creds: Credentials, at: number }

export type Tab = 'processes' | 'frames' | 'files' | 'events'

/** One line of the operations log: what was asked and what the API answered. */
export interface LogEntry {
  id: number
  title: string
  ok: boolean
  /** One line: the result or the error, as a reader wants it first. */
  summary: string
  /** The API's reply body. */
  body: unknown
  status?: number
}

/** What one operation changed, from its events: the keys views mark. */
export interface Change {
  first: number
  last: number
  op: string
  path?: string
  pid?: number
  pfns: Map<number, string>
  ptes: Set<string>
  pids: Set<number>
  vmas: Set<string>
  text: string
}

export const session = signal<LiveSession | null>(null)
export const summary = signal<Schemas['SessionSummary'] | null>(null)
export const replay = signal<Replay | null>(null)
/** The session every view reads. */
export const viewCreds = computed<Credentials | null>(() => replay.value?.creds ?? session.value?.creds ?? null)
export const readOnly = computed(() => replay.value !== null)

export const journal = signal<Array<Schemas['Op']>>([])
export const journalState = signal<{ fromSnapshot: boolean, truncated: boolean }>({ fromSnapshot: false, truncated: false })

export const tab = signal<Tab>('processes')
export const selectedPfn = signal<number | null>(null)
export const selectedPid = signal<number | null>(null)
export const lastChange = signal<Change | null>(null)
/** What views mark as changed: the live session's last operation, nothing while showing the past. */
export const shownChange = computed<Change | null>(() => replay.value !== null ? null : lastChange.value)
export const link = signal<{ state: 'none' | 'connecting' | 'live' | 'closed', seq: number, note?: string }>({ state: 'none', seq: 0 })
export const busy = signal(false)

const LOG_MAX = 200
export const log = signal<LogEntry[]>([])
let logId = 0
export function addLog (e: Omit<LogEntry, 'id'>): void {
  const next = [...log.value, { ...e, id: ++logId }]
  log.value = next.length > LOG_MAX ? next.slice(next.length - LOG_MAX) : next
}

/** Received events, oldest first, bounded; `eventsVersion` moves when they change. */
const EVENTS_MAX = 5000
export const events: SimEvent[] = []
export const eventsVersion = signal(0)
export function addEvents (list: SimEvent[]): void {
  events.push(...list)
  if (events.length > EVENTS_MAX) events.splice(0, events.length - EVENTS_MAX)
  eventsVersion.value++
}
export function clearEvents (): void { events.length = 0; eventsVersion.value++ }

export const tick = signal(0)
let pending: ReturnType<typeof setTimeout> | undefined
/** Asks every view to refetch, at most every 200 ms. */
export function refresh (): void {
  if (pending !== undefined) return
  pending = setTimeout(() => { pending = undefined; tick.value++ }, 200)
}

/** Forgets everything about the current session. */
export function resetSession (): void {
  batch(() => {
    session.value = null
    summary.value = null
    replay.value = null
    journal.value = []
    selectedPfn.value = null
    selectedPid.value = null
    lastChange.value = null
    log.value = []
  })
  clearEvents()
}
