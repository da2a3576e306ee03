import { hash as digest, randomBytes, timingSafeEqual } from 'node:crypto'
import { Simulator, type KernelVersion, type SimLimits, type Snapshot } from '../sim/index.js'
import type { LagSink } from './event-hub.js'
import { SessionError } from './errors.js'
import { Session } from './session.js'

export interface SessionStoreOptions {
  maxSessions: number
  idleMs: number
  /** The limits a session gets when it asks for none, and the most it may ask for. */
  limits: SimLimits
  /** Event history per session, the per-WebSocket queue cap, and where event lag is reported. */
  stream: { history: number, maxBufferedBytes: number, lag?: LagSink }
  now?: () => number
}

export type RemovalReason = 'deleted' | 'expired' | 'shutdown'

// crypto.hash (one shot) costs half of createHash().update().digest(), and it runs on every request.
const hashToken = (token: string): Buffer => digest('sha256', token, 'buffer')

/** How many ids of ended sessions are remembered, so their owners get 404 rather than 401. */
const TOMBSTONES = 10000

/**
 * Live sessions, their tokens (stored hashed, compared in constant time), idle expiry and the
 * server-wide cap. A request with a missing or wrong token learns nothing about the session: it gets
 * 401 whether or not the id exists. Only the right token for an ended session gets 404.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>()
  private readonly ended = new Map<string, Buffer>()
  private readonly listeners: Array<(s: Session, why: RemovalReason) => void> = []
  private timer: NodeJS.Timeout | undefined
  private readonly now: () => number

  constructor (private readonly opts: SessionStoreOptions) {
    this.now = opts.now ?? Date.now
  }

  get size (): number { return this.sessions.size }
  get maxSessions (): number { return this.opts.maxSessions }
  get defaultLimits (): SimLimits { return this.opts.limits }

  /** Called when a session goes away (its WebSockets are closed there). */
  onRemove (fn: (s: Session, why: RemovalReason) => void): void { this.listeners.push(fn) }

  /** A session whose simulator is restored from a snapshot (its limits must fit this server's). */
  restore (snap: Snapshot): { session: Session, token: string } {
    this.checkRoom(snap.limits)
    const sim = Simulator.fromSnapshot(snap)
    return this.create(snap.kernel, snap.limits, sim)
  }

  create (kernel: KernelVersion, limits: Partial<SimLimits> = {}, sim?: Simulator): { session: Session, token: string } {
    this.checkRoom(limits)
    const id = randomBytes(12).toString('base64url')
    const token = randomBytes(32).toString('base64url')
    const session = new Session(id, hashToken(token), kernel, { ...this.opts.limits, ...limits }, this.now(), this.opts.stream, sim)
    this.sessions.set(id, session)
    return { session, token }
  }

  private checkRoom (limits: Partial<SimLimits>): void {
    this.sweep()
    if (this.sessions.size >= this.opts.maxSessions) {
      throw new SessionError('session_cap', `the server already holds ${this.sessions.size} sessions (its limit); delete one or wait for idle ones to expire`, { maxSessions: this.opts.maxSessions })
    }
    for (const [key, value] of Object.entries(limits)) {
      const max = this.opts.limits[key as keyof SimLimits]
      if (value !== undefined && value > max) {
        throw new SessionError('limits_too_high', `limits.${key} may be at most ${max} on this server`, { limit: key, requested: value, max })
      }
    }
  }

  /** The session if `token` is its token; throws unauthorized (or session_ended for the right token of an ended one). */
  authorize (id: string, token: string | undefined): Session {
    if (token === undefined || token.length === 0) throw new SessionError('unauthorized', 'this route needs "Authorization: Bearer <session token>"')
    const hash = hashToken(token)
    const s = this.sessions.get(id)
    if (s !== undefined && this.isExpired(s)) {
      this.remove(s, 'expired')
    } else if (s !== undefined && timingSafeEqual(hash, s.tokenHash)) {
      s.lastUsedAt = this.now()
      s.requests++
      return s
    }
    const gone = this.ended.get(id)
    if (gone !== undefined && timingSafeEqual(hash, gone)) throw new SessionError('session_ended', `session ${id} has ended (deleted or idle too long)`, { session: id })
    throw new SessionError('unauthorized', 'the session token is not valid for this session')
  }

  /**
   * For a request whose credentials were already verified for `s` (same connection, same header):
   * true, and the session touched, while it is live; false when it has ended or expired, and then the
   * caller must go through authorize() for the proper error.
   */
  touch (s: Session): boolean {
    if (this.sessions.get(s.id) !== s || this.isExpired(s)) return false
    s.lastUsedAt = this.now()
    s.requests++
    return true
  }

  get (id: string): Session | undefined { return this.sessions.get(id) }

  list (): Session[] {
    this.sweep()
    return [...this.sessions.values()]
  }

  delete (s: Session): void { this.remove(s, 'deleted') }

  /** Removes every session idle for longer than the idle time; returns how many. */
  sweep (): number {
    let n = 0
    for (const s of this.sessions.values()) {
      if (this.isExpired(s)) { this.remove(s, 'expired'); n++ }
    }
    return n
  }

  expiresAt (s: Session): number { return s.lastUsedAt + this.opts.idleMs }

  start (): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => this.sweep(), Math.max(1000, Math.min(60000, this.opts.idleMs / 4)))
    this.timer.unref()
  }

  /** Stops the sweeper and ends every session (server shutdown). */
  close (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    for (const s of [...this.sessions.values()]) this.remove(s, 'shutdown')
  }

  private isExpired (s: Session): boolean { return this.now() - s.lastUsedAt > this.opts.idleMs }

  private remove (s: Session, why: RemovalReason): void {
    if (!this.sessions.delete(s.id)) return
    this.ended.set(s.id, s.tokenHash)
    if (this.ended.size > TOMBSTONES) this.ended.delete(this.ended.keys().next().value as string)
    for (const fn of this.listeners) fn(s, why)
  }
}
