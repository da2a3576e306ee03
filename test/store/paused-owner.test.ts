/**
 * An owner paused past its lease (SIGSTOP on a real server process): another process takes its
 * session over; when the paused one resumes (SIGCONT) it serves nothing from its old copy. Requests
 * to it get 503 while ownership is elsewhere (the read it held when it stopped included: its copy is
 * stale). The session's state is the new owner's, untouched.
 */
import { Redis } from 'ioredis'
import t from 'tap'
import { buildTestApp } from '../helper.js'
import { freePort, RedisServer, startServerProcess } from './redis-server.js'

t.setTimeout(120_000)
const LEASE_MS = 800
const redis = await RedisServer.start()
t.teardown(async () => { await redis.kill() })
const port = await freePort()
const base = `http://127.0.0.1:${port}`
const paused = await startServerProcess(port, { REDIS_URL: redis.url, NODE_ID: 'paused', LEASE_MS: String(LEASE_MS) })
t.teardown(() => { paused.kill('SIGCONT'); paused.kill('SIGKILL') })

t.test('SIGSTOP past the lease, another process takes over, SIGCONT: the old owner is fenced and drops its copy', async (t) => {
  const created = await (await fetch(base + '/v1/sessions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"kernel":"6.18"}' })).json() as { id: string, token: string }
  const auth = { authorization: `Bearer ${created.token}`, 'content-type': 'application/json' }
  const at = (path: string): string => `${base}/v1/sessions/${created.id}${path}`
  t.equal((await fetch(at('/ops'), { method: 'POST', headers: auth, body: JSON.stringify({ ops: [{ op: 'spawn', proc: 'P' }, { op: 'mmap', proc: 'P', addr: '0x10000000', pages: 4, kind: 'anon' }] }) })).status, 200)
  const inspect = new Redis(redis.url)
  t.teardown(() => { inspect.disconnect() })
  t.match(await inspect.hget(`rm:{${created.id}}:meta`, 'owner'), /^paused:/)

  paused.kill('SIGSTOP')
  // A read sent to the stopped owner waits in its socket buffer meanwhile: served from the old copy
  // on SIGCONT, it would show a state that is no longer the session's.
  const inFlight = fetch(at('/snapshot'), { headers: auth })
  await new Promise((resolve) => setTimeout(resolve, LEASE_MS * 2))

  const other = await buildTestApp(t, { REDIS_URL: redis.url, NODE_ID: 'other', LEASE_MS: String(LEASE_MS) })
  const s = { base: `/v1/sessions/${created.id}`, headers: { authorization: `Bearer ${created.token}` } }
  const w = await other.inject({ method: 'POST', url: s.base + '/processes/1/access', headers: s.headers, payload: { addr: '0x10001000', op: 'write' } })
  t.equal(w.statusCode, 200, 'the other process took the session over')
  t.equal(await inspect.hget(`rm:{${created.id}}:meta`, 'epoch'), '2')
  const state = (await other.inject({ method: 'GET', url: s.base + '/snapshot', headers: s.headers })).json() as unknown

  paused.kill('SIGCONT')
  const late = await inFlight
  t.equal(late.status, 503, 'the read the paused owner held is not served from its stale copy')
  t.match(((await late.json()) as { error: { message: string } }).error.message, /lease has lapsed/)
  const write = await fetch(at('/processes/1/access'), { method: 'POST', headers: auth, body: JSON.stringify({ addr: '0x10000000', op: 'write' }) })
  t.equal(write.status, 503, 'nor does it take a write while the other process owns the session')
  t.same((await other.inject({ method: 'GET', url: s.base + '/snapshot', headers: s.headers })).json(), state, 'the new owner\'s state is untouched')
  t.equal(await inspect.hget(`rm:{${created.id}}:meta`, 'seq'), '3', 'spawn, mmap and the new owner\'s write: nothing of the old owner')
  const metrics = await (await fetch(base + '/metrics')).text()
  t.match(metrics, /rmap_store_leases_lost_total [1-9]/, 'the old owner counts the lease it lost')
})
