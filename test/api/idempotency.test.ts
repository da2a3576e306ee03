/**
 * Idempotency-Key on a session's POST routes (in memory; test/store covers the durable side): a retry
 * returns the first reply instead of applying the operation again; a key reused for another request,
 * or a malformed one, is refused; a session remembers its last 1,000 keys.
 */
import t from 'tap'
import { buildTestApp, createSession } from '../helper.js'
import { REMEMBERED_KEYS } from '../../src/sessions/idempotency.js'

t.test('a retry with the same key returns the first reply and applies nothing', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18')
  const post = async (path: string, payload: unknown, key?: string) => await app.inject({
    method: 'POST', url: s.base + path, headers: { ...s.headers, ...(key !== undefined ? { 'idempotency-key': key } : {}) }, payload: payload as Record<string, unknown>
  })
  await post('/processes', { name: 'P' })
  await post('/processes/1/mmap', { addr: '0x10000000', pages: 4 })
  const first = await post('/processes/1/access', { addr: '0x10000000', op: 'write' }, 'w-1')
  t.equal(first.statusCode, 200)
  t.equal(first.headers['idempotent-replayed'], undefined)
  const again = await post('/processes/1/access', { addr: '0x10000000', op: 'write' }, 'w-1')
  t.equal(again.statusCode, 200)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(again.body, first.body, 'byte for byte the first reply')
  const fork = await post('/processes/1/fork', {}, 'fork-1')
  t.equal(fork.statusCode, 201)
  const forkAgain = await post('/processes/1/fork', {}, 'fork-1')
  t.equal(forkAgain.statusCode, 201, 'the first status too')
  t.equal(forkAgain.body, fork.body)
  const journal = (await app.inject({ method: 'GET', url: s.base + '/journal', headers: s.headers })).json() as { ops: Array<{ op: string }> }
  t.same(journal.ops.map((o) => o.op), ['spawn', 'mmap', 'write', 'fork'], 'each keyed op applied once')
  t.equal((await app.inject({ method: 'GET', url: s.base + '/processes', headers: s.headers })).json().processes.length, 2, 'one child, not two')

  // Without a key, a repeat is a new request.
  await post('/processes/1/fork', {})
  t.equal((await app.inject({ method: 'GET', url: s.base + '/processes', headers: s.headers })).json().processes.length, 3)

  // A failed operation's reply is kept too: the retry is told the same.
  const segv = await post('/processes/1/access', { addr: '0x70000000', op: 'read' }, 'segv')
  t.equal(segv.statusCode, 422)
  const segvAgain = await post('/processes/1/access', { addr: '0x70000000', op: 'read' }, 'segv')
  t.equal(segvAgain.statusCode, 422)
  t.equal(segvAgain.headers['idempotent-replayed'], 'true')
})

t.test('a key reused for another request is a 409; a malformed key a 400; keys are per session', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18')
  const other = await createSession(app, '6.18')
  const spawn = await app.inject({ method: 'POST', url: s.base + '/processes', headers: { ...s.headers, 'idempotency-key': 'k' }, payload: { name: 'a' } })
  t.equal(spawn.statusCode, 201)
  const reuse = await app.inject({ method: 'POST', url: s.base + '/processes', headers: { ...s.headers, 'idempotency-key': 'k' }, payload: { name: 'b' } })
  t.equal(reuse.statusCode, 409)
  t.match(reuse.json().error.message, /Idempotency-Key "k" was used for another request/)
  const elsewhere = await app.inject({ method: 'POST', url: other.base + '/processes', headers: { ...other.headers, 'idempotency-key': 'k' }, payload: { name: 'b' } })
  t.equal(elsewhere.statusCode, 201, 'another session has its own keys')
  const bad = await app.inject({ method: 'POST', url: s.base + '/processes', headers: { ...s.headers, 'idempotency-key': 'no spaces allowed' }, payload: {} })
  t.equal(bad.statusCode, 400)
  t.match(bad.json().error.message, /idempotency-key/)
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, Record<string, { parameters?: Array<{ in: string, name: string }>, responses: Record<string, unknown> }>> }
  const mmap = doc.paths['/v1/sessions/{sid}/processes/{pid}/mmap'].post
  t.ok(mmap.parameters?.some((p) => p.in === 'header' && p.name === 'idempotency-key'), 'the header is documented')
  t.ok('409' in mmap.responses, 'and its 409')
})

t.test(`a session remembers its last ${REMEMBERED_KEYS} keys`, async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18')
  const spawn = async (key: string, name: string) => await app.inject({ method: 'POST', url: s.base + '/processes', headers: { ...s.headers, 'idempotency-key': key }, payload: { name } })
  await spawn('first', 'p')
  for (let i = 0; i <= REMEMBERED_KEYS; i++) {
    const r = await app.inject({ method: 'POST', url: s.base + '/compare', headers: { ...s.headers, 'idempotency-key': `c${i}` }, payload: { target: 'process', pid: 1, expect: {} } })
    if (r.statusCode >= 300 && r.statusCode !== 422) t.fail(`compare ${i}: ${r.statusCode} ${r.body}`)
  }
  t.equal((await spawn('c0', 'x')).statusCode, 201, 'the oldest key is forgotten: a new request')
  t.equal((await spawn('c1000', 'y')).statusCode, 409, 'the newest is remembered')
})
