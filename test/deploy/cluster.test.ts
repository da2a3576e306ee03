/**
 * Several server processes behind a real HAProxy, sessions in a real Redis (deploy/cluster.ts starts
 * them all, as `npm run cluster` does), under a steady client load with a ledger: a session's requests
 * stay on one process; the process owning the most sessions is killed with SIGKILL; HAProxy moves its
 * sessions to their next process, which takes them over once the lease has run out; clients retry
 * with their Idempotency-Keys. Every acknowledged op is in its session's journal exactly once, in
 * order, with no hole; failover time (kill → first success of an affected session) is reported.
 */
import { Redis } from 'ioredis'
import t from 'tap'
import { startCluster } from '../../deploy/cluster.js'

t.setTimeout(180_000)
const LEASE_MS = 1000
const cluster = await startCluster({ nodes: 3, leaseMs: LEASE_MS, server: [process.execPath, '--import', 'tsx', 'src/server.ts'], env: { RATE_LIMIT_PER_MINUTE: '0', SNAPSHOT_EVERY: '1000000' } })
t.teardown(async () => { await cluster.stop() })

interface Client { id: string, token: string, acked: unknown[], node: string, failoverMs?: number, retries: number }
async function call (c: Client, path: string, body: unknown, key: string): Promise<Response> {
  return await fetch(`${cluster.url}/v1/sessions/${c.id}${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body)
  })
}

const clients: Client[] = []
await t.test('sessions are created round-robin and each stays on one process', async (t) => {
  for (let i = 0; i < 18; i++) {
    const r = await fetch(cluster.url + '/v1/sessions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"kernel":"6.18"}' })
    t.equal(r.status, 201)
    const s = await r.json() as { id: string, token: string }
    const c: Client = { id: s.id, token: s.token, acked: [], node: '', retries: 0 }
    for (const [path, body] of [['/processes', { name: 'P' }], ['/processes/1/mmap', { addr: '0x10000000', pages: 32 }]] as const) {
      const res = await call(c, path, body, `setup-${path.length}`)
      t.equal(res.status, 201)
      c.node = res.headers.get('x-rmap-node') ?? ''
    }
    clients.push(c)
  }
  for (const c of clients.slice(0, 6)) {
    for (let k = 0; k < 3; k++) {
      const r = await fetch(`${cluster.url}/v1/sessions/${c.id}`, { headers: { authorization: `Bearer ${c.token}` } })
      t.equal(r.headers.get('x-rmap-node'), c.node, `${c.id} stays on ${c.node}`)
    }
  }
  const nodes = new Set(clients.map((c) => c.node.split(':')[0]))
  t.ok(nodes.size >= 2, `the sessions spread over ${nodes.size} processes`)
})

await t.test('kill -9 the busiest owner under load: every acknowledged op once, in order', async (t) => {
  const byNode = new Map<string, number>()
  for (const c of clients) byNode.set(c.node, (byNode.get(c.node) ?? 0) + 1)
  const victim = [...byNode].sort((a, b) => b[1] - a[1])[0][0]
  const victimIndex = cluster.nodes.findIndex((n) => victim.startsWith(`${n.id}:`))
  let killedAt = 0
  const OPS = 45
  const load = async (c: Client): Promise<void> => {
    for (let n = 0; n < OPS; n++) {
      const addr = 0x10000000 + (n % 32) * 4096
      const sentAfterKill = killedAt > 0
      for (;;) {
        try {
          const r = await call(c, '/processes/1/access', { addr: `0x${addr.toString(16)}`, op: 'write' }, `w-${n}`)
          if (r.ok) {
            c.acked.push({ op: 'write', pid: 1, addr })
            if (sentAfterKill && c.failoverMs === undefined && c.node === victim) c.failoverMs = Date.now() - killedAt
            break
          }
          // 503: not applied (the owner is changing); 502: HAProxy lost the process mid-reply, so the
          // outcome is unknown. Either way the same request again, with the same key.
          if (r.status !== 503 && r.status !== 502) throw new Error(`${r.status} ${await r.text()}`)
        } catch (err) {
          if (!(err instanceof TypeError)) throw err
        }
        c.retries++
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
  }
  const running = Promise.all(clients.map(load))
  while (clients.reduce((n, c) => n + c.acked.length, 0) < OPS * clients.length / 3) await new Promise((resolve) => setTimeout(resolve, 5))
  await cluster.signalNode(victimIndex, 'SIGKILL')
  killedAt = Date.now()
  await running

  const inspect = new Redis(cluster.redisUrl)
  t.teardown(() => { inspect.disconnect() })
  for (const c of clients) {
    const entries = await inspect.xrange(`rm:{${c.id}}:ops`, '-', '+')
    t.same(entries.map(([id]) => Number(id.split('-')[0])), entries.map((_, i) => i + 1), `${c.id}: no hole`)
    t.same(entries.map(([, f]) => JSON.parse(f[f.indexOf('op') + 1]) as unknown).slice(2), c.acked, `${c.id}: the ${c.acked.length} acknowledged writes, once each, in order`)
  }
  const times = clients.filter((c) => c.node === victim).map((c) => c.failoverMs ?? NaN).sort((a, b) => a - b)
  t.ok(times.length > 0 && times.every((ms) => Number.isFinite(ms)), 'every session of the killed process was served again')
  t.comment(`failover (kill -9 → first success of an affected session, lease ${LEASE_MS} ms): median ${times[Math.floor(times.length / 2)]} ms, max ${times[times.length - 1]} ms over ${times.length} sessions; client retries: ${clients.reduce((n, c) => n + c.retries, 0)}`)
  const unaffected = clients.filter((c) => c.node !== victim)
  t.ok(unaffected.every((c) => c.acked.length === OPS), 'the other processes\' sessions finished their load')
})
