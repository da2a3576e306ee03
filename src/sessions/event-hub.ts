import type { WebSocket } from 'ws'
import type { PteLayout, SimEvent, Simulator } from '../sim/index.js'
import { compileFilter, type EventFilter } from './event-filter.js'
import { EventHistory } from './event-history.js'
import { eventJson } from './event-wire.js'

/** WebSocket close codes of the event stream (documented in the README). */
export const CLOSE = {
  /** The server is shutting down. */
  goingAway: 1001,
  /** The client broke the protocol too often. */
  policy: 1008,
  /** The session was deleted. */
  sessionDeleted: 4000,
  /** The session expired (idle too long). */
  sessionExpired: 4001,
  /** The client read too slowly: its queue passed the cap. Resume with ?since=<last seq received>. */
  tooSlow: 4008,
  /** This process no longer serves the session (durable store): reconnect and resume with ?since=. */
  moved: 4009
} as const

/** Most events in one message; bigger bursts are split so each message stays a bounded size. */
const MAX_BATCH = 512

export interface HubStats { subscribers: number, dropped: number, delivered: number }

/** Where a server's hubs report to its metrics: event lag (operation to send) and closed slow sockets. */
export interface LagSink {
  observe?: (seconds: number) => void
  dropped?: (reason: string) => void
}

/** One WebSocket subscriber: its filter and the events waiting for the end of the current operation. */
export class Subscriber {
  matches: (e: SimEvent) => boolean
  readonly pending: SimEvent[] = []
  lastSeq: number
  closed = false
  alive = true
  private scheduled = false
  private pendingSince = 0

  constructor (readonly socket: WebSocket, filter: EventFilter, since: number, private readonly hub: EventHub) {
    this.matches = compileFilter(filter)
    this.lastSeq = since
  }

  setFilter (filter: EventFilter): void { this.matches = compileFilter(filter) }

  enqueue (e: SimEvent): void {
    if (this.closed) return
    this.pending.push(e)
    if (!this.scheduled) {
      this.scheduled = true
      if (this.hub.lag.observe !== undefined) this.pendingSince = performance.now()
      // Every event of one operation goes out together, after the operation returns (and, with a
      // durable store, once it is stored).
      queueMicrotask(() => { this.scheduled = false; this.flushWhenDurable() })
    }
  }

  /**
   * Flushes once every operation applied so far is stored (at once without a durable store). Asked
   * again after each wait, since more may have been applied meanwhile; a lost session sends nothing
   * more (it closes its sockets).
   */
  flushWhenDurable (): void {
    const wait = this.hub.barrier()
    if (wait === null) { this.flush(); return }
    wait.then(() => { this.flushWhenDurable() }, () => { this.pending.length = 0 })
  }

  /** Sends what is pending, in order; closes the socket instead when the client is too far behind. */
  flush (): void {
    if (this.closed) { this.pending.length = 0; return }
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, MAX_BATCH)
      const layout = this.hub.pteLayout
      const msg = batch.length === 1 ? eventJson(batch[0], layout) : '[' + batch.map((e) => eventJson(e, layout)).join(',') + ']'
      // Only a client that is behind (something still queued) is dropped: a single message larger
      // than the cap still goes out to a client that keeps up.
      const queued = this.socket.bufferedAmount
      if (queued > 0 && queued + msg.length > this.hub.maxBufferedBytes) {
        this.pending.length = 0
        this.hub.drop(this, CLOSE.tooSlow, `too slow: resume with ?since=${this.lastSeq}`)
        return
      }
      this.socket.send(msg)
      this.lastSeq = batch[batch.length - 1].seq
      this.hub.stats.delivered += batch.length
    }
    if (this.hub.lag.observe !== undefined && this.pendingSince > 0) {
      this.hub.lag.observe((performance.now() - this.pendingSince) / 1000)
      this.pendingSince = 0
    }
  }

  close (code: number, reason: string): void {
    if (this.closed) return
    this.closed = true
    this.pending.length = 0
    this.socket.close(code, reason)
  }
}

/**
 * A session's event stream: a bounded history (for resume) and the live subscribers. Each event is
 * kept once and serialised once, however many subscribers get it; a subscriber that cannot keep up
 * is closed rather than buffered without bound.
 */
export class EventHub {
  /** The recent events, for resume (see EventHistory). */
  private readonly history: EventHistory
  readonly subscribers = new Set<Subscriber>()
  readonly stats: HubStats = { subscribers: 0, dropped: 0, delivered: 0 }
  /** Null when every applied operation may be told; else a promise for when it may (durable store). */
  barrier: () => Promise<void> | null = () => null

  constructor (private readonly sim: Simulator, readonly historySize: number, readonly maxBufferedBytes: number, readonly lag: LagSink = {}) {
    this.history = new EventHistory(historySize)
    sim.subscribe((e) => { this.onEvent(e) }, (seq, type, cause, pid, addr, before, after) => {
      this.history.pushPte(seq, type, cause, pid, addr, before, after)
      // The event object is built only when a socket is open to take it.
      if (this.subscribers.size > 0) this.toSubscribers({ type, cause, pid, addr, before, after, seq })
    })
  }

  /** The sequence number of the latest event. */
  get seq (): number { return this.sim.state.events.seq }

  get pteLayout (): PteLayout { return this.sim.state.model.pteLayout }
  /** The oldest sequence number still in the history (seq + 1 when it is empty). */
  get oldest (): number { return this.history.oldestSeq ?? this.seq + 1 }

  private onEvent (e: SimEvent): void {
    this.history.push(e)
    this.toSubscribers(e)
  }

  private toSubscribers (e: SimEvent): void {
    for (const s of this.subscribers) if (s.matches(e)) s.enqueue(e)
  }

  /**
   * Adds a subscriber that has seen everything up to `since` and replays what the history still
   * holds after it. Returns the gap (first and last missing seq) when the history no longer reaches back.
   */
  subscribe (socket: WebSocket, filter: EventFilter, since: number | undefined): { sub: Subscriber, gap: { from: number, to: number } | null } {
    const start = since ?? this.seq
    const sub = new Subscriber(socket, filter, start, this)
    this.subscribers.add(sub)
    this.stats.subscribers = this.subscribers.size
    let gap: { from: number, to: number } | null = null
    if (since !== undefined && since < this.seq) {
      if (since + 1 < this.oldest) gap = { from: since + 1, to: this.oldest - 1 }
      this.history.forEachAfter(since, (e) => { if (sub.matches(e)) sub.pending.push(e) })
    }
    return { sub, gap }
  }

  unsubscribe (sub: Subscriber): void {
    this.subscribers.delete(sub)
    this.stats.subscribers = this.subscribers.size
  }

  drop (sub: Subscriber, code: number, reason: string): void {
    this.stats.dropped++
    this.lag.dropped?.('backpressure')
    sub.close(code, reason)
    this.unsubscribe(sub)
  }

  closeAll (code: number, reason: string): void {
    for (const s of [...this.subscribers]) { s.close(code, reason); this.unsubscribe(s) }
  }
}
