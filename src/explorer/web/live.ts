/**
 * The live session's event stream. Each message is one operation's events (an array when it made
 * several): they go to the event log, mark what the operation changed, and ask the views to refetch.
 * A dropped connection resumes with ?since= the last sequence number seen, so nothing is missed
 * silently; a `gap` notice is shown when the server no longer has the events.
 */
import type { Credentials } from './api'
import { changeOf } from './change'
import { addEvents, addLog, lastChange, link, refresh } from './store'
import { isEvent, type ServerMessage, type SimEvent } from './wire'

/** Close codes after which reconnecting is pointless (routes/events.ts). */
const FINAL = new Map([[4000, 'the session was deleted'], [4001, 'the session expired']])

export class LiveStream {
  private socket: WebSocket | undefined
  private seq = 0
  private stopped = false
  private retry = 500
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor (private readonly creds: Credentials) {}

  start (): void { this.open(undefined) }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    this.socket?.close(1000, 'explorer closed the session')
  }

  private open (since: number | undefined): void {
    const url = new URL(`/v1/sessions/${encodeURIComponent(this.creds.id)}/events`, location.href)
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'
    url.searchParams.set('token', this.creds.token)
    if (since !== undefined) url.searchParams.set('since', String(since))
    link.value = { state: 'connecting', seq: this.seq }
    const socket = new WebSocket(url)
    this.socket = socket
    socket.onmessage = (m) => {
      try { this.receive(JSON.parse(String(m.data)) as unknown) } catch (err) {
        addLog({ title: 'event stream', ok: false, summary: `unreadable message: ${String(err)}`, body: String(m.data).slice(0, 200) })
      }
    }
    socket.onclose = (e) => {
      if (this.socket !== socket) return
      const final = FINAL.get(e.code)
      link.value = { state: 'closed', seq: this.seq, note: final ?? (this.stopped ? undefined : `reconnecting (${e.code})`) }
      if (this.stopped || final !== undefined) return
      this.timer = setTimeout(() => this.open(this.seq), this.retry)
      this.retry = Math.min(this.retry * 2, 8000)
    }
  }

  private receive (msg: unknown): void {
    if (Array.isArray(msg)) { this.take(msg.filter(isEvent)); return }
    if (isEvent(msg)) { this.take([msg]); return }
    const m = msg as ServerMessage
    if (m.type === 'hello') {
      this.retry = 500
      this.seq = Math.max(this.seq, m.seq)
      link.value = { state: 'live', seq: this.seq }
      refresh()
    } else if (m.type === 'gap') {
      addLog({ title: 'event stream', ok: false, summary: `missed events ${m.from}–${m.to}: ${m.message}`, body: m })
      refresh()
    } else if (m.type === 'error') {
      addLog({ title: 'event stream', ok: false, summary: m.error.message, body: m })
    }
  }

  private take (list: SimEvent[]): void {
    const fresh = list.filter((e) => e.seq > this.seq)
    if (fresh.length === 0) return
    this.seq = fresh[fresh.length - 1].seq
    link.value = { state: 'live', seq: this.seq }
    addEvents(fresh)
    lastChange.value = changeOf(fresh)
    refresh()
  }
}
