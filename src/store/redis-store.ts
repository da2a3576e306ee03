import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Snapshot } from '../sim/index.js'
import { REMEMBERED_KEYS, type StoredReply } from '../sessions/idempotency.js'
import { FencedError, type DurableStore, type JournalRecord, type KeyedReply, type Lease, type SessionMeta, type StoredSession } from './durable-store.js'

/**
 * The append is idempotent: ioredis sends a command again after a reconnect when its reply was lost,
 * and an append Redis already applied must then answer success (DUP), not "wrong sequence". Each
 * append carries a random write id, kept on its entries, to recognise itself.
 *
 * Lua scripts: each runs atomically in Redis, so a check and the write it guards cannot be split by
 * another client. One session's keys share the {id} hash tag (one Redis Cluster slot); the claim also
 * reads the owner's node key, which Redis Cluster would need in the same slot (a single Redis here).
 */
const CLAIM = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and owner ~= '' and owner ~= ARGV[1] then
  local node, inc = string.match(owner, '^(.*):([^:]*)$')
  if node and redis.call('GET', ARGV[2] .. node) == inc then return {0} end
end
local epoch
if owner == ARGV[1] then epoch = tonumber(redis.call('HGET', KEYS[1], 'epoch')) else epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1) end
redis.call('HSET', KEYS[1], 'owner', ARGV[1])
for i = 1, 5 do redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
return {1, epoch}
`
const APPEND = `
local last = ARGV[#ARGV - 1]
local s = redis.call('HGET', KEYS[1], 'seq')
if s and tonumber(s) >= tonumber(last) then
  local e = redis.call('XRANGE', KEYS[2], last .. '-0', last .. '-0')
  if e[1] and e[1][2][1] == 'w' and e[1][2][2] == ARGV[4] then return {1, 'DUP'} end
end
local e = redis.call('HGET', KEYS[1], 'epoch')
if e ~= ARGV[1] then return {-1, e or ''} end
if s ~= ARGV[2] then return {-2, s or ''} end
for i = 6, #ARGV, 2 do redis.call('XADD', KEYS[2], ARGV[i] .. '-0', 'w', ARGV[4], 'op', ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'seq', ARGV[#ARGV - 1])
for _, r in ipairs(cjson.decode(ARGV[5])) do
  redis.call('HSET', KEYS[4], r[1], r[2])
  redis.call('RPUSH', KEYS[5], r[1])
end
while redis.call('LLEN', KEYS[5]) > ${REMEMBERED_KEYS} do redis.call('HDEL', KEYS[4], redis.call('LPOP', KEYS[5])) end
for i = 1, 5 do redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
return {1}
`
const SNAPSHOT = `
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return -1 end
local kept = tonumber(redis.call('HGET', KEYS[1], 'snapSeq') or '-1')
if tonumber(ARGV[2]) <= kept then return 0 end
redis.call('SET', KEYS[3], ARGV[3])
redis.call('HSET', KEYS[1], 'snapSeq', ARGV[2])
redis.call('XTRIM', KEYS[2], 'MINID', tonumber(ARGV[2]) + 1)
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
return 1
`
const RELEASE = `
if redis.call('HGET', KEYS[1], 'epoch') == ARGV[1] and redis.call('HGET', KEYS[1], 'owner') == ARGV[2] then
  redis.call('HSET', KEYS[1], 'owner', '')
  return 1
end
return 0
`

interface Scripts {
  rmClaim: (meta: string, stream: string, snap: string, idem: string, idemOrder: string, owner: string, nodePrefix: string, ttl: number) => Promise<[number, number?]>
  rmAppend: (meta: string, stream: string, snap: string, idem: string, idemOrder: string, ...args: Array<string | number>) => Promise<[number, string?]>
  rmSnapshot: (meta: string, stream: string, snap: string, epoch: number, seq: number, state: string, ttl: number) => Promise<number>
  rmRelease: (meta: string, epoch: number, owner: string) => Promise<number>
}

export interface RedisStoreOptions {
  url: string
  /** This process's name in ownership records (NODE_ID); an incarnation is added per start. */
  node: string
  /** How long a node's liveness key lasts without renewal: past it, its sessions may be claimed. */
  leaseMs: number
  /** Keys of a session nobody touches expire after this long (its idle time, with a margin). */
  keyTtlMs: number
  /** How long a command may take before the request it serves fails (Redis down or stuck). */
  commandTimeoutMs: number
}

/** meta, ops, snap, and the Idempotency-Key replies (a hash) with their order (a list). */
const keys = (id: string): [string, string, string, string, string] => [`rm:{${id}}:meta`, `rm:{${id}}:ops`, `rm:{${id}}:snap`, `rm:{${id}}:idem`, `rm:{${id}}:idemorder`]
const NODE_PREFIX = 'rm:node:'

export class RedisStore implements DurableStore {
  readonly owner: string
  private readonly redis: Redis & Scripts
  private renewal: NodeJS.Timeout | undefined
  private renewedAt = 0
  private onLost: (why: string) => void = () => {}
  private lost = false
  private readonly incarnation = randomBytes(6).toString('base64url')

  constructor (private readonly opts: RedisStoreOptions) {
    this.owner = `${opts.node}:${this.incarnation}`
    // No offline queue: while Redis is unreachable a command fails at once and the request that needs
    // it gets 503, instead of an acknowledgement that waits on a queue nobody may ever drain.
    this.redis = new Redis(opts.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.commandTimeoutMs,
      connectTimeout: opts.commandTimeoutMs,
      retryStrategy: (times) => Math.min(50 * times, 500),
      lazyConnect: true
    }) as Redis & Scripts
    this.redis.defineCommand('rmClaim', { numberOfKeys: 5, lua: CLAIM })
    this.redis.defineCommand('rmAppend', { numberOfKeys: 5, lua: APPEND })
    this.redis.defineCommand('rmSnapshot', { numberOfKeys: 3, lua: SNAPSHOT })
    this.redis.defineCommand('rmRelease', { numberOfKeys: 1, lua: RELEASE })
    this.redis.on('error', () => { /* reported by the commands that fail; reconnection is automatic */ })
  }

  async start (onLost: (why: string) => void): Promise<void> {
    this.onLost = onLost
    await this.redis.connect()
    const nodeKey = NODE_PREFIX + this.opts.node
    const asked = Date.now()
    await this.redis.set(nodeKey, this.incarnation, 'PX', this.opts.leaseMs)
    this.renewedAt = asked
    this.renewal = setInterval(() => {
      // A lease renewed too long ago (this process was paused, or Redis was away) may have been
      // taken over meanwhile: drop everything before serving anything again.
      this.leaseValid()
      const at = Date.now()
      this.redis.set(nodeKey, this.incarnation, 'PX', this.opts.leaseMs).then(() => {
        // The lease runs from when the renewal was asked for, not from its answer.
        if (at > this.renewedAt) this.renewedAt = at
        this.lost = false
      }, () => { this.leaseValid() })
    }, Math.max(50, Math.floor(this.opts.leaseMs / 4)))
    this.renewal.unref()
  }

  leaseValid (): boolean {
    const age = Date.now() - this.renewedAt
    if (age < this.opts.leaseMs) return !this.lost
    if (!this.lost) {
      this.lost = true
      this.onLost(`the node lease was last renewed ${age} ms ago (lease ${this.opts.leaseMs} ms)`)
    }
    return false
  }

  async create (meta: SessionMeta, snapshot: Snapshot | null): Promise<void> {
    const [m, , s] = keys(meta.id)
    const tx = this.redis.multi()
      .hset(m, { tokenHash: meta.tokenHash, kernel: meta.kernel, limits: JSON.stringify(meta.limits), createdAt: String(meta.createdAt), owner: '', epoch: '0', seq: '0', snapSeq: snapshot === null ? '-1' : '0' })
      .pexpire(m, this.opts.keyTtlMs)
    if (snapshot !== null) tx.set(s, JSON.stringify(snapshot), 'PX', this.opts.keyTtlMs)
    await tx.exec()
  }

  async claim (id: string): Promise<Lease | 'missing' | 'owned'> {
    const r = await this.redis.rmClaim(...keys(id), this.owner, NODE_PREFIX, this.opts.keyTtlMs)
    return r[0] === 1 ? { epoch: Number(r[1]) } : r[0] === 0 ? 'owned' : 'missing'
  }

  async load (id: string): Promise<StoredSession | null> {
    const [m, o, s] = keys(id)
    const meta = await this.redis.hgetall(m)
    if (meta.tokenHash === undefined) return null
    const snapSeq = Number(meta.snapSeq ?? '-1')
    const snapText = snapSeq >= 0 ? await this.redis.get(s) : null
    const entries = await this.redis.xrange(o, snapSeq >= 0 ? `(${snapSeq}-0` : '-', '+')
    return {
      meta: { id, tokenHash: meta.tokenHash, kernel: meta.kernel as SessionMeta['kernel'], limits: JSON.parse(meta.limits) as SessionMeta['limits'], createdAt: Number(meta.createdAt) },
      seq: Number(meta.seq),
      snapshot: snapText === null ? null : { seq: snapSeq, state: JSON.parse(snapText) as Snapshot },
      tail: entries.map(([entryId, fields]) => ({ seq: Number(entryId.split('-')[0]), op: JSON.parse(fields[fields.indexOf('op') + 1]) as JournalRecord['op'] }))
    }
  }

  async append (id: string, lease: Lease, prevSeq: number, records: JournalRecord[], replies: KeyedReply[]): Promise<void> {
    const replyArgs = JSON.stringify(replies.map((k) => [k.key, JSON.stringify({ ...k.reply, seq: k.seq })]))
    const args: Array<string | number> = [lease.epoch, prevSeq, this.opts.keyTtlMs, randomBytes(9).toString('base64url'), replyArgs]
    for (const r of records) args.push(r.seq, JSON.stringify(r.op))
    const r = await this.redis.rmAppend(...keys(id), ...args)
    if (r[0] === -1) throw new FencedError(`session ${id} is owned at epoch ${r[1] ?? '?'} now, not ${lease.epoch}`)
    if (r[0] === -2) throw new FencedError(`session ${id} is at op ${r[1] ?? '?'} in the store, not ${prevSeq}`)
  }

  async saveSnapshot (id: string, lease: Lease, seq: number, state: Snapshot): Promise<void> {
    const [m, o, s] = keys(id)
    const r = await this.redis.rmSnapshot(m, o, s, lease.epoch, seq, JSON.stringify(state), this.opts.keyTtlMs)
    if (r === -1) throw new FencedError(`session ${id}: the snapshot of op ${seq} comes from a former owner`)
  }

  async lookupReply (id: string, key: string): Promise<StoredReply | null> {
    const text = await this.redis.hget(keys(id)[3], key)
    return text === null ? null : JSON.parse(text) as StoredReply
  }

  async release (id: string, lease: Lease): Promise<void> {
    await this.redis.rmRelease(keys(id)[0], lease.epoch, this.owner)
  }

  async remove (id: string): Promise<void> {
    await this.redis.del(...keys(id))
  }

  async ping (): Promise<boolean> {
    try { return (await this.redis.ping()) === 'PONG' } catch { return false }
  }

  async close (): Promise<void> {
    clearInterval(this.renewal)
    try { await this.redis.del(NODE_PREFIX + this.opts.node) } catch { /* the key expires anyway */ }
    this.redis.disconnect()
  }
}
