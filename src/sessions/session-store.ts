import { hash as digest, randomBytes, timingSafeEqual } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { replayJournalOp, Simulator, type KernelVersion, type SimLimits, type Snapshot } from '../sim/index.js'
import type { DurableStore } from '../store/durable-store.js'
import type { LagSink } from './event-hub.js'
import { SessionError } from './errors.js'
import { SessionPersistence } from './persistence.js'
import { Session } from './session.js'

export interface SessionStoreOptions {
  maxSessions: number
  idleMs: number
  /** The limits a session gets when it asks for none, and the most it may ask for. */
  limits: SimLimits
  /** Event history per session, the per-WebSocket queue cap, and where event lag is reported. */
  stream: { history: number, maxBufferedBytes: number, lag?: LagSink }
  now?: () => number
  /** Sessions that outlive the process (REDIS_URL): the store, and a snapshot every this many ops. */
  durable?: { store: DurableStore, snapshotEvery: number, log?: (msg: string, err?: unknown) => void }
}

/** lost: a write to the durable store failed (or ownership went elsewhere): the copy here is dropped. */
export type RemovalReason = 'deleted' | 'expired' | 'shutdown' | 'lost'

/** What recoveries from the durable store did, for /metrics. */
export interface RecoveryStats { recoveries: number, lastMs: number, totalMs: number, leasesLost: number, failures: number }

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
  private readonly recovering = new Map<string, Promise<void>>()
  readonly recoveryStats: RecoveryStats = { recoveries: 0, lastMs: 0, totalMs: 0, leasesLost: 0, failures: 0 }

  constructor (private readonly opts: SessionStoreOptions) {
    this.now = opts.now ?? Date.now
  }

  get size (): number { return this.sessions.size }
  get maxSessions (): number { return this.opts.maxSessions }
  get defaultLimits (): SimLimits { return this.opts.limits }
  get durable (): boolean { return this.opts.durable !== undefined }

  /** Called when a session goes away (its WebSockets are closed there). */
  onRemove (fn: (s: Session, why: RemovalReason) => void): void { this.listeners.push(fn) }

  /** A session whose simulator is restored from a snapshot (its limits must fit this server's). */
  restore (snap: Snapshot): { session: Session, token: string } {
    this.checkRoom(snap.limits)
    const sim = Simulator.fromSnapshot(snap)
    return this.create(snap.kernel, snap.limits, sim)
  }

  /**
   * A new session (from a snapshot when one is given). With a durable store it is stored before it is
   * returned (its creation is acknowledged only once it would survive a restart) and not kept here:
   * its first request, on whichever process the proxy sends it to, takes it from the store.
   */
  async open (kernel: KernelVersion, limits: Partial<SimLimits> | undefined, snapshot?: Snapshot): Promise<{ session: Session, token: string }> {
    const made = snapshot === undefined ? this.create(kernel, limits) : this.restore(snapshot)
    await this.persistNew(made.session, snapshot ?? null)
    return made
  }

  /**
   * With a durable store: stores a session just made here (from `snapshot`, its state now, when it did
   * not start empty) and lets it go, for its first request to take it wherever that is routed.
   * Without one: nothing (it stays here). Either way the session is acknowledged only after this.
   */
  async persistNew (s: Session, snapshot: Snapshot | null): Promise<void> {
    const durable = this.opts.durable
    if (durable === undefined) return
    this.sessions.delete(s.id)
    try {
      await durable.store.create({ id: s.id, tokenHash: s.tokenHash.toString('hex'), kernel: s.version, limits: s.limits, createdAt: s.createdAt }, snapshot)
    } catch (err) {
      throw new SessionError('store_unavailable', `the session could not be stored: ${err instanceof Error ? err.message : String(err)}; retry`)
    }
  }

  private attach (s: Session, lease: { epoch: number }, seq: number): void {
    const durable = this.opts.durable as NonNullable<SessionStoreOptions['durable']>
    s.persistence = new SessionPersistence(durable.store, s, lease, seq, durable.snapshotEvery, (err) => {
      this.recoveryStats.leasesLost++
      durable.log?.(`session ${s.id} lost: ${err.message}`, err)
      this.remove(s, 'lost')
    }, (err) => { durable.log?.(`session ${s.id}: a snapshot was not stored`, err) })
  }

  /**
   * Brings a session this process does not hold back from the durable store, if it is there and no
   * other live process owns it: its latest snapshot, then the journal after it replayed (the engine is
   * deterministic: same state, PFNs and event numbers). Concurrent requests share one recovery.
   */
  async recover (id: string): Promise<void> {
    if (this.opts.durable === undefined || this.sessions.has(id)) return
    let pending = this.recovering.get(id)
    if (pending === undefined) {
      pending = this.load(id).finally(() => this.recovering.delete(id))
      this.recovering.set(id, pending)
    }
    await pending
  }

  private async load (id: string): Promise<void> {
    const durable = this.opts.durable as NonNullable<SessionStoreOptions['durable']>
    const started = performance.now()
    let lease
    try {
      lease = await durable.store.claim(id)
    } catch (err) {
      throw new SessionError('store_unavailable', `session ${id} could not be read from the store: ${err instanceof Error ? err.message : String(err)}; retry`)
    }
    if (lease === 'missing') return
    if (lease === 'owned') throw new SessionError('store_unavailable', `session ${id} is served by another process right now; retry`, { session: id })
    const stored = await durable.store.load(id)
    if (stored === null) return
    const { meta, snapshot, tail } = stored
    try {
      const sim = snapshot === null ? new Simulator({ version: meta.kernel, limits: meta.limits }) : Simulator.fromSnapshot(snapshot.state, { verify: false })
      const s = new Session(id, Buffer.from(meta.tokenHash, 'hex'), meta.kernel, meta.limits, this.now(), this.opts.stream, sim)
      for (const r of tail) replayJournalOp(sim, r.op)
      const reached = (snapshot?.seq ?? 0) + tail.length
      if (reached !== stored.seq || (tail.length > 0 && tail[tail.length - 1].seq !== stored.seq)) throw new Error(`the journal ends at op ${reached}, the store says ${stored.seq}`)
      this.checkRoom({})
      this.attach(s, lease, stored.seq)
      this.sessions.set(id, s)
      const ms = performance.now() - started
      this.recoveryStats.recoveries++
      this.recoveryStats.lastMs = ms
      this.recoveryStats.totalMs += ms
    } catch (err) {
      this.recoveryStats.failures++
      if (err instanceof SessionError) throw err
      throw new SessionError('store_unavailable', `session ${id} could not be rebuilt from the store: ${err instanceof Error ? err.message : String(err)}`, { session: id })
    }
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
    // A lost or handed-over session lives on in the store: it has not ended.
    if (why === 'deleted' || why === 'expired') {
      this.ended.set(s.id, s.tokenHash)
      if (this.ended.size > TOMBSTONES) this.ended.delete(this.ended.keys().next().value as string)
      const durable = this.opts.durable
      if (durable !== undefined) {
        s.persistence?.lose(new Error(`session ${why}`), false)
        durable.store.remove(s.id).catch((err: unknown) => { durable.log?.(`session ${s.id}: its stored state was not removed (it expires)`, err) })
      }
    }
    for (const fn of this.listeners) fn(s, why)
  }

  /**
   * Graceful shutdown with a durable store: every session's last ops stored, a snapshot of each, and
   * ownership given up, so another process takes them over with nothing to replay.
   */
  async handOffAll (): Promise<void> {
    if (this.opts.durable === undefined) return
    const log = this.opts.durable.log
    await Promise.all([...this.sessions.values()].map(async (s) => {
      try { await s.persistence?.handOff() } catch (err) { log?.(`session ${s.id}: handoff failed (the next owner replays its journal)`, err) }
    }))
  }

  /** The node lost its lease: another process may own these sessions now, so none is served here. */
  dropAll (why: string): void {
    for (const s of [...this.sessions.values()]) s.persistence?.lose(new Error(why))
  }
}
