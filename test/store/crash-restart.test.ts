/**
 * A server process killed with SIGKILL under a steady client load, with real processes: redis-server
 * and the server (node running src/server.ts through tsx) as children. A ledger records every
 * acknowledged operation. Every op carries an Idempotency-Key and the clients retry whatever got no
 * reply with the same key. After a restart under another node name (so the dead owner's lease has to
 * run out first), the session's journal is exactly the acknowledged ops, in order, each once, with no
 * hole in the sequence (an op whose reply was lost in the kill is retried, not applied twice); and
 * replaying each journal in a fresh session gives exactly the recovered state.
 */
import type { ChildProcess } from 'node:child_process'
import { Redis } from 'ioredis'
import t from 'tap'
import { freePort, RedisServer, startServerProcess } from './redis-server.js'

t.setTimeout(120_000)
const LEASE_MS = 1000
const redis = await RedisServer.start()
t.teardown(async () => { await redis.kill() })
const port = await freePort()
const base = `http://127.0.0.1:${port}`

let server: ChildProcess | undefined
async function startServer (node: string): Promise<void> {
  server = await startServerProcess(port, { REDIS_URL: redis.url, NODE_ID: node, LEASE_MS: String(LEASE_MS), SNAPSHOT_EVERY: '1000000' })
}
t.teardown(() => { server?.kill('SIGKILL') })

interface Client { id: string, token: string, acked: Array<Record<string, unknown>>, unknown: Array<Record<string, unknown>>, errors: number }
async function call (c: Client, method: string, path: string, body?: unknown, key?: string): Promise<Response> {
  return await fetch(`${base}/v1/sessions/${c.id}${path}`, {
    method,
    headers: { authorization: `Bearer ${c.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(key !== undefined ? { 'idempotency-key': key } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
}

/** The n-th op of a client's steady load: writes over 64 pages, a fork now and then. */
function opOf (n: number): { path: string, body: Record<string, unknown>, journal: Record<string, unknown> } {
  if (n % 25 === 24) return { path: '/processes/1/fork', body: {}, journal: { op: 'fork', pid: 1 } }
  const addr = 0x10000000 + (n % 64) * 4096
  // The store keeps journal entries as the engine makes them: addresses as numbers.
  return { path: '/processes/1/access', body: { addr: `0x${addr.toString(16)}`, op: 'write' }, journal: { op: 'write', pid: 1, addr } }
}

await startServer('n1')
const clients: Client[] = []
for (let i = 0; i < 4; i++) {
  const created = await (await fetch(base + '/v1/sessions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kernel: i % 2 === 0 ? '6.18' : '2.6.11' }) })).json() as { id: string, token: string }
  const c: Client = { id: created.id, token: created.token, acked: [], unknown: [], errors: 0 }
  await call(c, 'POST', '/processes', { name: 'P' })
  await call(c, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 64 })
  clients.push(c)
}

let killedAt = 0
let firstSuccessAfterKill = 0
const OPS = 120
async function load (c: Client): Promise<void> {
  for (let n = 0; n < OPS; n++) {
    const op = opOf(n)
    const sentAfterKill = killedAt > 0
    try {
      const r = await call(c, 'POST', op.path, op.body, `op-${n}`)
      if (r.ok) {
        c.acked.push(op.journal)
        // Failover time: from the kill to the first success of a request sent after it.
        if (sentAfterKill && firstSuccessAfterKill === 0) firstSuccessAfterKill = Date.now()
      } else if (r.status === 503) {
        // Not applied (the store or the owner refused it): the same op again, as a client would.
        n--
        await new Promise((resolve) => setTimeout(resolve, 50))
      } else throw new Error(`${r.status} ${await r.text()}`)
    } catch (err) {
      if (!(err instanceof TypeError)) throw err
      c.errors++
      // No reply: the op may or may not have been stored. The same op again, with the same key.
      if ((err.cause as { code?: string } | undefined)?.code !== 'ECONNREFUSED') c.unknown.push(op.journal)
      n--
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}

const running = Promise.all(clients.map(load))
// Kill -9 once about a third of the load is acknowledged, then restart under another name.
while (clients.reduce((n, c) => n + c.acked.length, 0) < OPS * clients.length / 3) await new Promise((resolve) => setTimeout(resolve, 5))
server?.kill('SIGKILL')
killedAt = Date.now()
await new Promise((resolve) => server?.once('exit', resolve))
await startServer('n2')
await running

t.test('every acknowledged op is stored once, in order, with no hole', async (t) => {
  const inspect = new Redis(redis.url)
  t.teardown(() => { inspect.disconnect() })
  for (const c of clients) {
    const entries = await inspect.xrange(`rm:{${c.id}}:ops`, '-', '+')
    const seqs = entries.map(([id]) => Number(id.split('-')[0]))
    t.same(seqs, seqs.map((_, i) => i + 1), `${c.id}: seqs 1..${seqs.length}, no hole`)
    const stored = entries.map(([, f]) => JSON.parse(f[f.indexOf('op') + 1]) as Record<string, unknown>).slice(2) // spawn and mmap first
    if (c === clients[0]) t.comment(`stored ops look like ${JSON.stringify(stored.slice(23, 26))}`)
    // Retried with their keys, the ops whose replies died with the server are stored once.
    t.same(stored, c.acked, `${c.id}: exactly the ${c.acked.length} acknowledged ops, in order, each once (${c.unknown.length} retried after a lost reply)`)
  }
})

t.test('replaying each journal in a fresh session gives the recovered state', async (t) => {
  const inspect = new Redis(redis.url)
  t.teardown(() => { inspect.disconnect() })
  for (const c of clients) {
    const live = await (await call(c, 'GET', '/snapshot')).json() as { kernel: string }
    const ops = (await inspect.xrange(`rm:{${c.id}}:ops`, '-', '+')).map(([, f]) => JSON.parse(f[f.indexOf('op') + 1]) as unknown)
    const fresh = await (await fetch(base + '/v1/sessions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kernel: live.kernel }) })).json() as { id: string, token: string }
    const f: Client = { id: fresh.id, token: fresh.token, acked: [], unknown: [], errors: 0 }
    for (let i = 0; i < ops.length; i += 500) t.equal((await call(f, 'POST', '/ops', { ops: ops.slice(i, i + 500) })).status, 200)
    t.same(await (await call(f, 'GET', '/snapshot')).json(), live, `${c.id}: the same state`)
  }
})

t.test('failover: the session was served again once the dead owner\'s lease ran out', async (t) => {
  t.comment(clients.map((c) => `${c.id}: ${c.acked.length} acknowledged, ${c.unknown.length} lost replies, ${c.errors} connection errors`).join('; '))
  t.ok(firstSuccessAfterKill >= killedAt && firstSuccessAfterKill > 0, 'an op sent after the kill succeeded')
  const ms = firstSuccessAfterKill - killedAt
  t.comment(`kill -9 → first successful op: ${ms} ms (lease ${LEASE_MS} ms, restart included)`)
  t.ok(clients.every((c) => c.acked.length === OPS), 'every op was acknowledged in the end')
})
