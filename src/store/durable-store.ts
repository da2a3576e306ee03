import type { StoredReply } from '../sessions/idempotency.js'
import type { JournalOp } from '../sim/ops/op.js'
import type { KernelVersion, SimLimits, Snapshot } from '../sim/index.js'

/**
 * Where sessions outlive a process: the journal of every session's operations, its latest snapshot,
 * and who owns it. The server works without one (the embedded default: sessions live and die with
 * the process); with REDIS_URL it uses RedisStore. Every write names the owner's epoch, and the store
 * itself refuses a write from an older epoch, so a paused or partitioned former owner cannot write.
 */
export interface SessionMeta {
  id: string
  /** SHA-256 of the token, hex: the token itself is never stored. */
  tokenHash: string
  kernel: KernelVersion
  limits: SimLimits
  createdAt: number
}

/** One journaled operation and its sequence number (1 for the session's first). */
export interface JournalRecord { seq: number, op: JournalOp }

/** The reply to a request with an Idempotency-Key, stored with the last op it applied. */
export interface KeyedReply { key: string, seq: number, reply: StoredReply }

/** What a process needs to bring a session back: meta, the latest snapshot and the journal after it. */
export interface StoredSession {
  meta: SessionMeta
  /** Ops acknowledged so far. */
  seq: number
  snapshot: { seq: number, state: Snapshot } | null
  tail: JournalRecord[]
}

/** The ownership a claim grants: appends must carry this epoch. */
export interface Lease { epoch: number }

/** The store refused a write: another process owns the session now (or it was deleted). */
export class FencedError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'FencedError'
  }
}

export interface DurableStore {
  /** `node:incarnation`: who this process is in ownership records. */
  readonly owner: string
  /** Starts the node's liveness key and its renewal; `onLost` runs if it cannot renew in time. */
  start: (onLost: (why: string) => void) => Promise<void>
  /**
   * Whether this process's lease is still good: renewed less than a lease ago. False after a pause
   * (SIGSTOP, a long GC) or while Redis is unreachable: another process may own its sessions by now.
   */
  leaseValid: () => boolean
  /**
   * Records a new session (with its first snapshot when it began from one), owned by nobody: behind a
   * proxy that routes by session id, the process that created it is not the one its requests go to,
   * and the first of them takes it.
   */
  create: (meta: SessionMeta, snapshot: Snapshot | null) => Promise<void>
  /** Takes ownership unless another live process holds it; a new owner bumps the epoch. */
  claim: (id: string) => Promise<Lease | 'missing' | 'owned'>
  /** The session as stored, or null when there is none. */
  load: (id: string) => Promise<StoredSession | null>
  /**
   * Appends records after `prevSeq`, with the replies of the keyed requests that made them, in one
   * atomic step; throws FencedError when the epoch or the sequence is not current.
   */
  append: (id: string, lease: Lease, prevSeq: number, records: JournalRecord[], replies: KeyedReply[]) => Promise<void>
  /** The stored reply for a session's Idempotency-Key (the last REMEMBERED_KEYS are kept). */
  lookupReply: (id: string, key: string) => Promise<StoredReply | null>
  /** Keeps a snapshot of the state after op `seq` (ignored when an equal or newer one is kept). */
  saveSnapshot: (id: string, lease: Lease, seq: number, state: Snapshot) => Promise<void>
  /** Gives ownership up (graceful handoff). */
  release: (id: string, lease: Lease) => Promise<void>
  remove: (id: string) => Promise<void>
  ping: () => Promise<boolean>
  close: () => Promise<void>
}
