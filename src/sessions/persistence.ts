import type { JournalOp } from '../sim/ops/op.js'
import type { Snapshot } from '../sim/index.js'
import type { DurableStore, JournalRecord, KeyedReply, Lease } from '../store/durable-store.js'
import type { StoredReply } from './idempotency.js'
import type { Session } from './session.js'

/**
 * A session's writes to the durable store. Every journal entry the simulator makes is numbered and
 * queued in the order the operations were applied; a microtask later the queue goes to the store in
 * one fenced append. Replies and events wait for whenDurable() (an operation is acknowledged only
 * once it is stored). Every `snapshotEvery` ops a snapshot is taken at once (it is the state after
 * exactly that op) and stored after the op is. The first failed write loses the session here: later
 * writes are refused too, waiters are told, and `onLost` drops the copy (the next request recovers
 * it from the store, without the unacknowledged ops).
 *
 * A request with an Idempotency-Key stores its reply with its ops, in the same append: its ops wait
 * (and the ops applied after them) until the reply is known, so a retry after any failover finds
 * either both or neither.
 */
export class SessionPersistence {
  /** Sequence number of the last op applied here. */
  applied: number
  /** Sequence number of the last op the store has. */
  durable: number
  private queue: Array<JournalRecord & { tag: string | undefined }> = []
  /** Keyed requests (by request id, the simulator's tag) whose replies go with their ops. */
  private readonly expected = new Map<string, { key: string, provided: boolean, reply: StoredReply | null }>()
  private snapshot: { seq: number, state: Snapshot } | null = null
  private writing = false
  private lost: Error | null = null
  /** The session ended (deleted, expired): there is nothing left to store or to wait for. */
  private ended = false
  private readonly waiters: Array<{ seq: number, resolve: () => void, reject: (err: Error) => void }> = []

  constructor (
    private readonly store: DurableStore,
    private readonly session: Session,
    readonly lease: Lease,
    seq: number,
    private readonly snapshotEvery: number,
    private readonly onLost: (err: Error) => void,
    private readonly onSnapshotError: (err: unknown) => void
  ) {
    this.applied = seq
    this.durable = seq
    session.sim.onJournal = (entry) => { this.record(entry) }
  }

  private record (op: JournalOp): void {
    this.applied++
    this.queue.push({ seq: this.applied, op, tag: this.session.sim.tag })
    if (this.snapshotEvery > 0 && this.applied % this.snapshotEvery === 0) this.snapshot = { seq: this.applied, state: this.session.sim.snapshot() }
    if (this.queue.length === 1 && !this.writing) queueMicrotask(() => { this.write().catch(() => { /* write() reports its own failures */ }) })
  }

  /** The request `tag` has an Idempotency-Key: its ops are stored with its reply (provideReply). */
  expectReply (tag: string, key: string): void {
    this.expected.set(tag, { key, provided: false, reply: null })
  }

  /** The reply of a keyed request (null: none to keep, e.g. a 5xx); its ops may now be stored. */
  provideReply (tag: string, reply: StoredReply | null): void {
    const e = this.expected.get(tag)
    if (e === undefined || e.provided) return
    e.provided = true
    e.reply = reply
    if (!this.queue.some((r) => r.tag === tag)) { this.expected.delete(tag); return }
    if (!this.writing) queueMicrotask(() => { this.write().catch(() => { /* write() reports its own failures */ }) })
  }

  /** Null when everything applied is stored; else a promise for that (rejected if the session is lost). */
  whenDurable (): Promise<void> | null {
    if (this.ended) return null
    if (this.lost !== null) return Promise.reject(this.lost)
    if (this.durable >= this.applied) return null
    const seq = this.applied
    return new Promise((resolve, reject) => { this.waiters.push({ seq, resolve, reject }) })
  }

  get isLost (): boolean { return this.lost !== null }

  /** Whether a reply must wait (or fail): some op applied here is not stored yet, or the session is lost. */
  get waiting (): boolean { return !this.ended && (this.lost !== null || this.durable < this.applied) }

  private async write (): Promise<void> {
    if (this.writing || this.lost !== null) return
    this.writing = true
    try {
      while (this.queue.length > 0 && this.lost === null) {
        // Up to the first op of a keyed request whose reply is not known yet.
        let n = 0
        while (n < this.queue.length) {
          const tag = this.queue[n].tag
          const e = tag === undefined ? undefined : this.expected.get(tag)
          if (e !== undefined && !e.provided) break
          n++
        }
        if (n === 0) break
        const batch = this.queue.slice(0, n)
        this.queue = this.queue.slice(n)
        const replies: KeyedReply[] = []
        for (let i = 0; i < batch.length; i++) {
          const tag = batch[i].tag
          const last = i === batch.length - 1 || batch[i + 1].tag !== tag
          const e = tag === undefined ? undefined : this.expected.get(tag)
          if (e === undefined || !last) continue
          if (e.reply !== null) replies.push({ key: e.key, seq: batch[i].seq, reply: e.reply })
          this.expected.delete(tag as string)
        }
        await this.store.append(this.session.id, this.lease, this.durable, batch.map(({ seq, op }) => ({ seq, op })), replies)
        this.durable = batch[batch.length - 1].seq
        this.settle()
        const snap = this.snapshot
        if (snap !== null && snap.seq <= this.durable) {
          this.snapshot = null
          // A snapshot only shortens a later replay: failing to store one loses nothing.
          await this.store.saveSnapshot(this.session.id, this.lease, snap.seq, snap.state).catch(this.onSnapshotError)
        }
      }
    } catch (err) {
      this.lose(err instanceof Error ? err : new Error(String(err)))
    } finally {
      this.writing = false
    }
  }

  private settle (): void {
    for (let i = 0; i < this.waiters.length;) {
      const w = this.waiters[i]
      if (w.seq <= this.durable) { this.waiters.splice(i, 1); w.resolve() } else i++
    }
  }

  /**
   * Stops writing this session: its applied-but-unstored ops are not acknowledged. `notify` false when
   * the session ends anyway (deleted, expired) rather than being lost.
   */
  lose (err: Error, notify = true): void {
    if (this.lost !== null) return
    this.lost = err
    this.ended = !notify
    this.session.sim.onJournal = undefined
    this.queue = []
    for (const w of this.waiters.splice(0)) w.reject(err)
    if (notify) this.onLost(err)
  }

  /** Graceful handoff: once everything is stored, a snapshot of now, then ownership given up. */
  async handOff (): Promise<void> {
    await this.whenDurable()
    if (this.lost !== null) return
    this.session.sim.onJournal = undefined
    await this.store.saveSnapshot(this.session.id, this.lease, this.durable, this.session.sim.snapshot())
    await this.store.release(this.session.id, this.lease)
  }
}
