import type { KernelVersion, SimLimits } from '../sim/index.js'
import { Simulator } from '../sim/index.js'
import { EventHub, type LagSink } from './event-hub.js'
import { ReplyCache } from './idempotency.js'
import type { SessionPersistence } from './persistence.js'

/** One client's simulated machine and what the server keeps about it. */
export class Session {
  readonly sim: Simulator
  readonly events: EventHub
  readonly createdAt: number
  lastUsedAt: number
  requests = 0
  /** Replies kept for Idempotency-Keys. */
  readonly replies = new ReplyCache()
  /** With a durable store: this session's writes to it (replies and events wait for them). */
  persistence: SessionPersistence | undefined

  constructor (
    readonly id: string,
    readonly tokenHash: Buffer,
    readonly version: KernelVersion,
    readonly limits: SimLimits,
    now: number,
    stream: { history: number, maxBufferedBytes: number, lag?: LagSink },
    sim?: Simulator
  ) {
    this.sim = sim ?? new Simulator({ version, limits })
    this.events = new EventHub(this.sim, stream.history, stream.maxBufferedBytes, stream.lag)
    this.events.barrier = () => this.persistence?.whenDurable() ?? null
    this.createdAt = now
    this.lastUsedAt = now
  }
}
