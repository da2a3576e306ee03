/**
 * Durable sessions against a real redis-server (in-process servers built with REDIS_URL): creation and
 * every operation stored before they are acknowledged; a session brought back by another process with
 * the same id, token, state, PFNs and event numbers; snapshots bounding the replay; ownership fenced by
 * Redis itself (a former owner's write is refused); Redis down means 503, not a hang, and nothing
 * acknowledged is lost when it comes back from its append-only file.
 */
import { Redis } from 'ioredis'
import WebSocket from 'ws'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, createSession, type TestSession } from '../helper.js'
import { RedisServer } from './redis-server.js'

t.setTimeout(120_000)
const redis = await RedisServer.start()
t.teardown(async () => { await redis.kill() })
const inspect = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
await inspect.connect()
t.teardown(() => { inspect.disconnect() })

const env = (node: string, extra: Record<string, string> = {}): Record<string, string> =>
  ({ REDIS_URL: redis.url, NODE_ID: node, LEASE_MS: '1000', SNAPSHOT_EVERY: '5', STORE_TIMEOUT_MS: '500', ...extra })

async function req (app: FastifyInstance, s: TestSession, method: 'GET' | 'POST' | 'DELETE', path: string, payload?: unknown): Promise<{ status: number, body: any }> {
  const r = await app.inject({ method, url: s.base + path, headers: s.headers, payload: payload as Record<string, unknown> })
  return { status: r.statusCode, body: r.body === '' ? null : r.json() }
}

const SCENARIO = [
  { op: 'spawn', proc: 'P' },
  { op: 'mmap', proc: 'P', addr: '0x10000000', pages: 8, kind: 'anon' },
  { op: 'write', proc: 'P', addr: '0x10000000' },
  { op: 'write', proc: 'P', addr: '0x10001000' },
  { op: 'fork', proc: 'P', child: 'C' },
  { op: 'write', proc: 'C', addr: '0x10000000' },
  { op: 'read', proc: 'C', addr: '0x10002000' }
]

t.test('every acknowledged op is in Redis; another process brings the session back exactly', async (t) => {
  const a = await buildTestApp(t, env('a'))
  const s = await createSession(a, '6.18')
  t.equal(await inspect.hget(`rm:{${s.id}}:meta`, 'seq'), '0', 'the session is stored before its creation is acknowledged')
  t.equal((await req(a, s, 'POST', '/ops', { ops: SCENARIO })).status, 200)
  t.equal(await inspect.hget(`rm:{${s.id}}:meta`, 'seq'), '7', 'seven ops stored before the reply')
  t.equal(await inspect.hget(`rm:{${s.id}}:meta`, 'snapSeq'), '5', 'a snapshot every 5 ops')
  t.equal(await inspect.xlen(`rm:{${s.id}}:ops`), 2, 'the journal keeps only what follows the snapshot')
  const before = (await req(a, s, 'GET', '/snapshot')).body
  const seqBefore = (await req(a, s, 'GET', '')).body.counts.events

  // Process b may not take it while a is alive: a owns it.
  const b = await buildTestApp(t, env('b'))
  const refused = await req(b, s, 'GET', '/snapshot')
  t.equal(refused.status, 503)
  t.match(refused.body.error.message, /served by another process/)

  // a stops gracefully (snapshot, release): b takes it over at once, with nothing to replay.
  await a.close()
  t.equal(await inspect.hget(`rm:{${s.id}}:meta`, 'owner'), '', 'released')
  t.equal(await inspect.hget(`rm:{${s.id}}:meta`, 'snapSeq'), '7', 'the handoff snapshot')
  const after = await req(b, s, 'GET', '/snapshot')
  t.equal(after.status, 200)
  t.same(after.body, before, 'the same state: frames, PFNs, page tables, counters')
  t.equal((await req(b, s, 'GET', '')).body.counts.events, seqBefore, 'the same event sequence number')
  t.equal(await inspect.hget(`rm:{${s.id}}:meta`, 'epoch'), '2', 'a new owner, a new epoch')
  // And it goes on: the next op continues the journal.
  const w = await req(b, s, 'POST', '/processes/2/access', { addr: '0x10003000', op: 'write' })
  t.equal(w.status, 200)
  t.equal(await inspect.hget(`rm:{${s.id}}:meta`, 'seq'), '8')
  // A wrong token is still refused, and the token still works.
  const wrong = await b.inject({ method: 'GET', url: s.base, headers: { authorization: 'Bearer nope' } })
  t.equal(wrong.statusCode, 401)
})

t.test('recovery replays the journal after the latest snapshot (a crash leaves no handoff snapshot)', async (t) => {
  const a = await buildTestApp(t, env('c'))
  const s = await createSession(a, '2.6.11')
  t.equal((await req(a, s, 'POST', '/ops', { ops: SCENARIO })).status, 200)
  const before = (await req(a, s, 'GET', '/snapshot')).body
  // A crash: the process is gone without handing anything over; its node key expires.
  await inspect.del('rm:node:c')
  const d = await buildTestApp(t, env('d'))
  const after = await req(d, s, 'GET', '/snapshot')
  t.equal(after.status, 200)
  t.same(after.body, before, 'snapshot of op 5 plus ops 6 and 7 replayed: the same state')
  t.equal(d.sessions.recoveryStats.recoveries, 1)
  // The former owner is fenced by Redis itself: its next write is refused, it drops its copy and
  // answers 503 (the op was not applied anywhere).
  const stale = await req(a, s, 'POST', '/processes/1/access', { addr: '0x10004000', op: 'write' })
  t.equal(stale.status, 503)
  t.match(stale.body.error.message, /owned at epoch 2 now, not 1/)
  t.equal(a.sessions.get(s.id), undefined, 'the former owner dropped its copy')
  t.equal(a.sessions.recoveryStats.leasesLost, 1)
  t.same((await req(d, s, 'GET', '/snapshot')).body, before, 'the refused write changed nothing')
  t.equal(await inspect.hget(`rm:{${s.id}}:meta`, 'seq'), '7')
})

t.test('a deleted session is gone from Redis too', async (t) => {
  const a = await buildTestApp(t, env('e'))
  const s = await createSession(a, '6.18')
  await req(a, s, 'POST', '/processes', { name: 'x' })
  t.equal((await req(a, s, 'DELETE', '')).status, 204)
  t.equal(await inspect.exists(`rm:{${s.id}}:meta`, `rm:{${s.id}}:ops`, `rm:{${s.id}}:snap`), 0)
})

t.test('Redis down: 503 at once, /ready says so; back from its AOF, nothing acknowledged is lost', async (t) => {
  const a = await buildTestApp(t, env('f', { LEASE_MS: '60000' }))
  const s = await createSession(a, '6.18')
  t.equal((await req(a, s, 'POST', '/ops', { ops: SCENARIO.slice(0, 4) })).status, 200)
  const acked = (await req(a, s, 'GET', '/snapshot')).body
  await redis.kill()
  const down = await req(a, s, 'POST', '/processes/1/access', { addr: '0x10005000', op: 'write' })
  t.equal(down.status, 503, 'not acknowledged')
  const ready = await a.inject({ method: 'GET', url: '/ready' })
  t.equal(ready.statusCode, 503)
  t.equal(ready.json().store, 'unreachable')
  const create = await a.inject({ method: 'POST', url: '/v1/sessions', payload: { kernel: '6.18' } })
  t.equal(create.statusCode, 503, 'no session is created that could not be stored')
  await redis.start()
  await new Promise((resolve) => setTimeout(resolve, 700))
  t.equal((await a.inject({ method: 'GET', url: '/ready' })).json().store, 'ok')
  // The copy that saw the refused op was dropped; the session comes back from Redis without it.
  const back = await req(a, s, 'GET', '/snapshot')
  t.equal(back.status, 200)
  t.same(back.body, acked, 'every acknowledged op, and not the refused one')
  t.equal(await inspect.hget(`rm:{${s.id}}:meta`, 'seq'), '4')
})

t.test('a retry with the same Idempotency-Key after a failover returns the first reply, applied once', async (t) => {
  const a = await buildTestApp(t, env('g'))
  const s = await createSession(a, '6.18')
  await req(a, s, 'POST', '/ops', { ops: SCENARIO.slice(0, 2) })
  const keyed = async (app: FastifyInstance, key: string) => await app.inject({ method: 'POST', url: s.base + '/processes/1/fork', headers: { ...s.headers, 'idempotency-key': key }, payload: {} })
  const first = await keyed(a, 'fork-once')
  t.equal(first.statusCode, 201)
  t.match(await inspect.hget(`rm:{${s.id}}:idem`, 'fork-once'), /"status":201/, 'the reply is stored with the op')
  // The owner dies; another process takes the session over and the client retries.
  await inspect.del('rm:node:g')
  const b = await buildTestApp(t, env('h'))
  const retry = await keyed(b, 'fork-once')
  t.equal(retry.statusCode, 201)
  t.equal(retry.headers['idempotent-replayed'], 'true')
  t.equal(retry.body, first.body, 'the first reply, byte for byte')
  t.equal(await inspect.hget(`rm:{${s.id}}:meta`, 'seq'), '3', 'the fork was applied once')
  t.equal((await req(b, s, 'GET', '/processes')).body.processes.length, 2)
  const reuse = await b.inject({ method: 'POST', url: s.base + '/processes', headers: { ...s.headers, 'idempotency-key': 'fork-once' }, payload: {} })
  t.equal(reuse.statusCode, 409, 'the key still belongs to the fork')
})

t.test('WebSocket subscribers across a failover: resumed with ?since=, the same events with the same numbers', async (t) => {
  const a = await buildTestApp(t, env('i', { SNAPSHOT_EVERY: '4' }))
  const s = await createSession(a, '6.18')
  const aBase = await a.listen({ host: '127.0.0.1', port: 0 })
  const seen: Array<Record<string, unknown>> = []
  const ws = new WebSocket(`${aBase.replace('http', 'ws')}${s.base}/events?token=${s.headers.authorization.slice(7)}`)
  ws.on('message', (m) => {
    const msg = JSON.parse(String(m)) as Record<string, unknown> | Array<Record<string, unknown>>
    for (const e of Array.isArray(msg) ? msg : [msg]) if (typeof e.seq === 'number' && e.type !== 'hello') seen.push(e)
  })
  await new Promise((resolve) => ws.once('open', resolve))
  t.equal((await req(a, s, 'POST', '/ops', { ops: SCENARIO })).status, 200)
  const last = (await req(a, s, 'GET', '')).body.counts.events as number
  while (seen.length === 0 || seen[seen.length - 1].seq !== last) await new Promise((resolve) => setTimeout(resolve, 10))
  ws.close()
  // A crash: the snapshot of op 4 plus ops 5..7 replayed regenerate those ops' events.
  await inspect.del('rm:node:i')
  const b = await buildTestApp(t, env('j'))
  const bBase = await b.listen({ host: '127.0.0.1', port: 0 })
  const resumeFrom = Number(seen[Math.floor(seen.length / 2)].seq)
  const again: Array<Record<string, unknown>> = []
  let gap: Record<string, unknown> | undefined
  const ws2 = new WebSocket(`${bBase.replace('http', 'ws')}${s.base}/events?token=${s.headers.authorization.slice(7)}&since=${resumeFrom}`)
  ws2.on('message', (m) => {
    const msg = JSON.parse(String(m)) as Record<string, unknown> | Array<Record<string, unknown>>
    for (const e of Array.isArray(msg) ? msg : [msg]) {
      if (e.type === 'gap') gap = e
      else if (typeof e.seq === 'number' && e.type !== 'hello') again.push(e)
    }
  })
  await new Promise((resolve) => ws2.once('open', resolve))
  const deadline = Date.now() + 5000
  while ((again.length === 0 || again[again.length - 1].seq !== last) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  ws2.close()
  t.equal(again[again.length - 1]?.seq, last, 'the recovered session reaches the same last event number')
  const bySeq = new Map(seen.map((e) => [e.seq, JSON.stringify({ ...e, cause: { ...(e.cause as object), requestId: undefined } })]))
  for (const e of again) t.equal(JSON.stringify({ ...e, cause: { ...(e.cause as object), requestId: undefined } }), bySeq.get(e.seq), `event ${String(e.seq)} is the same`)
  if (gap !== undefined) {
    t.ok(Number(gap.to) < Number(again[0]?.seq ?? last + 1), 'what the history no longer holds is announced as a gap, before the events')
    t.ok(Number(gap.from) === resumeFrom + 1, 'the gap starts right after what the client had')
  } else t.equal(again[0]?.seq, resumeFrom + 1, 'no gap: every event after since')
})

t.test('resuming from before the latest snapshot after a failover: a gap notice, then the events it still has', async (t) => {
  const a = await buildTestApp(t, env('k', { SNAPSHOT_EVERY: '4' }))
  const s = await createSession(a, '6.18')
  t.equal((await req(a, s, 'POST', '/ops', { ops: SCENARIO })).status, 200)
  const last = (await req(a, s, 'GET', '')).body.counts.events as number
  await inspect.del('rm:node:k')
  const b = await buildTestApp(t, env('l'))
  const bBase = await b.listen({ host: '127.0.0.1', port: 0 })
  const msgs: Array<Record<string, unknown>> = []
  const ws = new WebSocket(`${bBase.replace('http', 'ws')}${s.base}/events?token=${s.headers.authorization.slice(7)}&since=1`)
  ws.on('message', (m) => {
    const msg = JSON.parse(String(m)) as Record<string, unknown> | Array<Record<string, unknown>>
    msgs.push(...(Array.isArray(msg) ? msg : [msg]))
  })
  await new Promise((resolve) => ws.once('open', resolve))
  const deadline = Date.now() + 5000
  while (msgs[msgs.length - 1]?.seq !== last && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  ws.close()
  t.equal(msgs[0].type, 'hello')
  t.equal(msgs[0].seq, last, 'the hello names the same latest event')
  const gap = msgs.find((m) => m.type === 'gap')
  t.ok(gap !== undefined, 'the events before the snapshot are announced as a gap')
  const events = msgs.filter((m) => m.type !== 'hello' && m.type !== 'gap')
  t.equal(gap?.from, 2)
  t.equal(Number(gap?.to) + 1, events[0]?.seq, 'the events resume right after the gap')
  t.equal(events[events.length - 1]?.seq, last)
})

t.test('an exercise session is durable too: stored as it stands after its setup', async (t) => {
  const a = await buildTestApp(t, env('m'))
  const opened = await a.inject({ method: 'POST', url: '/v1/exercises/session', payload: { topic: 'fork-cow', seed: 7, kernel: '6.18', difficulty: 1 } })
  t.equal(opened.statusCode, 201)
  const { session } = opened.json() as { session: { id: string, token: string } }
  const s = { id: session.id, token: session.token, base: `/v1/sessions/${session.id}`, headers: { authorization: `Bearer ${session.token}` } }
  const here = await req(a, s, 'GET', '/snapshot')
  t.equal(here.status, 200)
  // Another process serves it just the same once this one has let it go.
  await a.close()
  const b = await buildTestApp(t, env('n'))
  const there = await req(b, s, 'GET', '/snapshot')
  t.equal(there.status, 200)
  t.same(there.body, here.body, 'the setup\'s state, on another process')
})
