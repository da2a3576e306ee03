import t from 'tap'
import { buildTestApp, call, createSession } from '../helper.js'
import { UUID, errorShapeProblems, expectError, expectValidation, jsonOf, ok, registeredRoutes, req } from './api-helpers.js'

const ADMIN = 'admin-token-0123456789abcdef'

t.test('POST /v1/sessions: 201 with the id, the token (once), kernel, limits, zero counts and times', async (t) => {
  let clock = Date.UTC(2030, 0, 1)
  const app = await buildTestApp(t, { SESSION_IDLE_SECONDS: '600', SESSION_MAX_PROCESSES: '50' }, () => clock)
  const res = await app.inject({ method: 'POST', url: '/v1/sessions', payload: { kernel: '6.18', limits: { maxProcesses: 8, maxFrames: 1024 } } })
  const b = ok(t, res, 201)
  t.match(b.id, /^[A-Za-z0-9_-]{8,64}$/, 'an opaque id')
  t.match(b.token, /^[A-Za-z0-9_-]{32,}$/, 'a long random token')
  t.equal(b.kernel, '6.18')
  t.equal(b.requests, 0)
  t.same(b.counts, { processes: 0, vmas: 0, files: 0, anonVmas: 0, framesInUse: 0, framesByKind: {}, swapSlotsUsed: 0, events: 0 })
  t.same(b.limits, { maxProcesses: 8, maxVmasPerProcess: 4096, maxFrames: 1024, maxFiles: 64, maxFilePages: 65536, maxSwapSlots: 262144 }, 'asked-for limits, server defaults for the rest')
  t.equal(b.createdAt, new Date(clock).toISOString())
  t.equal(b.lastUsedAt, new Date(clock).toISOString())
  t.equal(b.expiresAt, new Date(clock + 600_000).toISOString(), 'expires SESSION_IDLE_SECONDS after the last use')

  const dflt = ok(t, await app.inject({ method: 'POST', url: '/v1/sessions', payload: {} }), 201)
  t.equal(dflt.kernel, '2.6.11', 'the default kernel model')
  t.equal(dflt.limits.maxProcesses, 50, 'SESSION_MAX_PROCESSES is the default limit')
  t.not(dflt.id, b.id)
  t.not(dflt.token, b.token)

  // GET shows the summary without the token; it counts requests and moves lastUsedAt.
  const s = { id: b.id, token: b.token, base: `/v1/sessions/${b.id}`, headers: { authorization: `Bearer ${b.token}` } }
  clock += 5000
  const got = ok(t, await call(app, s, 'GET', '/'))
  t.equal(got.id, b.id)
  t.notOk('token' in got, 'the token is shown only once')
  t.equal(got.requests, 1)
  t.equal(got.lastUsedAt, new Date(clock).toISOString())
  t.equal(got.expiresAt, new Date(clock + 600_000).toISOString())
  t.equal(got.createdAt, b.createdAt)
})

t.test('POST /v1/sessions without any body is a default session (every field is optional, as for POST /processes)', async (t) => {
  const app = await buildTestApp(t)
  const noBody = ok(t, await app.inject({ method: 'POST', url: '/v1/sessions' }), 201)
  t.equal(noBody?.kernel, '2.6.11', 'the default kernel model')
})

t.test('GET /v1/sessions/:sid: counts follow the state', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18')
  await req(app, s, 'POST', '/processes', { name: 'P' })
  await req(app, s, 'POST', '/files', { name: 'lib', pages: 2 })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 2 })
  await req(app, s, 'POST', '/processes/1/access', { addr: '0x10000000', op: 'write' })
  const b = ok(t, await call(app, s, 'GET', '/'))
  t.equal(b.counts.processes, 1)
  t.equal(b.counts.vmas, 1)
  t.equal(b.counts.files, 1)
  t.equal(b.counts.anonVmas, 1)
  t.same(b.counts.framesByKind, { pagetable: 4, anon: 1 }, 'pgd, pud, pmd, pte tables and one anonymous page')
  t.equal(b.counts.framesInUse, 5)
  t.equal(b.counts.swapSlotsUsed, 0)
})

t.test('POST /v1/sessions: 400 validation lists every bad field', async (t) => {
  const app = await buildTestApp(t)
  const res = await app.inject({ method: 'POST', url: '/v1/sessions', payload: { kernel: '5.0', limits: { maxFrames: 'many', bogus: 1 }, extra: true } })
  const e = expectValidation(t, res, ['body.kernel', 'body.limits.maxFrames', 'body.limits', 'body'])
  t.match(e.message, /invalid body/)
  expectValidation(t, await app.inject({ method: 'POST', url: '/v1/sessions', payload: { limits: { maxFrames: 15, maxProcesses: 0, maxFiles: 1.5 } } }),
    ['body.limits.maxFrames', 'body.limits.maxProcesses', 'body.limits.maxFiles'], 'limits below their minimum')
  expectValidation(t, await app.inject({ method: 'POST', url: '/v1/sessions', payload: [1, 2] }), ['body'], 'an array body')
})

t.test('POST /v1/sessions: 413 for limits above the server maximum', async (t) => {
  const app = await buildTestApp(t, { SESSION_MAX_FRAMES: '4096' })
  const e = expectError(t, await app.inject({ method: 'POST', url: '/v1/sessions', payload: { limits: { maxFrames: 4097 } } }), 413, 'limit')
  t.same(e.details, { limit: 'maxFrames', requested: 4097, max: 4096 })
  const e2 = expectError(t, await app.inject({ method: 'POST', url: '/v1/sessions', payload: { limits: { maxProcesses: 1_000_000 } } }), 413, 'limit')
  t.same(e2.details, { limit: 'maxProcesses', requested: 1_000_000, max: 256 })
  ok(t, await app.inject({ method: 'POST', url: '/v1/sessions', payload: { limits: { maxFrames: 4096 } } }), 201, 'exactly the maximum is fine')
})

t.test('POST /v1/sessions: 429 when MAX_SESSIONS are live; a deleted one frees a place', async (t) => {
  const app = await buildTestApp(t, { MAX_SESSIONS: '2', ADMIN_TOKEN: ADMIN })
  const a = await createSession(app)
  await createSession(app)
  const e = expectError(t, await app.inject({ method: 'POST', url: '/v1/sessions', payload: { kernel: '6.18' } }), 429, 'limit')
  t.same(e.details, { maxSessions: 2 })
  const list = ok(t, await app.inject({ method: 'GET', url: '/v1/sessions', headers: { authorization: `Bearer ${ADMIN}` } }))
  t.equal(list.sessions.length, 2, 'the refused request created nothing')
  t.equal((await call(app, a, 'DELETE', '/')).statusCode, 204)
  ok(t, await app.inject({ method: 'POST', url: '/v1/sessions', payload: {} }), 201)
})

t.test('413 for a body over BODY_LIMIT, on the public and the session routes', async (t) => {
  const app = await buildTestApp(t, { BODY_LIMIT: '1024' })
  const big = JSON.stringify({ kernel: '6.18', pad: 'x'.repeat(2000) })
  const e = expectError(t, await app.inject({ method: 'POST', url: '/v1/sessions', headers: { 'content-type': 'application/json' }, payload: big }), 413, 'limit')
  t.match(e.message, /larger than this server accepts/)
  const s = await createSession(app)
  expectError(t, await app.inject({ method: 'POST', url: `${s.base}/files`, headers: { ...s.headers, 'content-type': 'application/json' }, payload: JSON.stringify({ name: 'x'.repeat(2000), pages: 1 }) }), 413, 'limit')
  const sum = ok(t, await call(app, s, 'GET', '/'))
  t.equal(sum.counts.files, 0, 'nothing was created')
})

t.test('DELETE /v1/sessions/:sid: 204, then its token gets 404 everywhere', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app)
  const other = await createSession(app)
  await req(app, s, 'POST', '/processes', { name: 'P' })
  const del = await call(app, s, 'DELETE', '/')
  t.equal(del.statusCode, 204)
  t.equal(del.body, '')
  t.ok(typeof del.headers['x-request-id'] === 'string')
  const e = expectError(t, await call(app, s, 'GET', '/'), 404, 'not_found', 'the right token of a deleted session')
  t.same(e.details, { session: s.id })
  expectError(t, await call(app, s, 'GET', '/processes'), 404, 'not_found')
  expectError(t, await call(app, s, 'POST', '/processes', { name: 'Q' }), 404, 'not_found')
  expectError(t, await call(app, s, 'DELETE', '/'), 404, 'not_found', 'deleting twice')
  ok(t, await call(app, other, 'GET', '/'), 200, 'other sessions are untouched')
})

t.test('401: missing, wrong or foreign tokens; the reply does not tell whether the session exists', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app)
  const other = await createSession(app)
  const gone = await createSession(app)
  await call(app, gone, 'DELETE', '/')
  const get = async (sid: string, headers: Record<string, string>) => await app.inject({ method: 'GET', url: `/v1/sessions/${sid}/processes`, headers })
  const unknownSid = 'AAAAAAAAAAAAAAAA'

  const missing = await get(s.id, {})
  expectError(t, missing, 401, 'unauthorized', 'no Authorization header')
  const missingUnknown = await get(unknownSid, {})
  expectError(t, missingUnknown, 401, 'unauthorized')
  t.equal(missing.body, missingUnknown.body, 'missing token: the same body for an existing and an unknown session')

  const wrong = await get(s.id, { authorization: 'Bearer not-the-token' })
  expectError(t, wrong, 401, 'unauthorized', 'wrong token')
  const wrongUnknown = await get(unknownSid, { authorization: 'Bearer not-the-token' })
  const wrongGone = await get(gone.id, { authorization: 'Bearer not-the-token' })
  t.equal(wrong.body, wrongUnknown.body, 'wrong token: the same body for an existing and an unknown session')
  t.equal(wrong.body, wrongGone.body, 'wrong token: the same body for a deleted session')
  t.equal(wrong.statusCode, wrongGone.statusCode)

  const foreign = await get(s.id, other.headers)
  expectError(t, foreign, 401, 'unauthorized', "another session's token")
  t.equal(foreign.body, wrong.body, "another session's token is just a wrong token")
  const foreignUnknown = await get(unknownSid, other.headers)
  t.equal(foreignUnknown.body, wrong.body)

  for (const authorization of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer ', s.token, `Bearer ${s.token} extra`, `Token ${s.token}`]) {
    const r = await get(s.id, { authorization })
    expectError(t, r, 401, 'unauthorized', `Authorization: ${authorization.slice(0, 20)}`)
    t.equal(r.body, (await get(unknownSid, { authorization })).body, 'same body for an unknown session')
  }
  ok(t, await get(s.id, { authorization: `bearer ${s.token}` }), 200, 'the scheme is case-insensitive')
})

t.test('session expiry: idle longer than SESSION_IDLE_SECONDS and the session is gone', async (t) => {
  let clock = 1_000_000_000
  const app = await buildTestApp(t, { SESSION_IDLE_SECONDS: '60', ADMIN_TOKEN: ADMIN, MAX_SESSIONS: '2' }, () => clock)
  const admin = { authorization: `Bearer ${ADMIN}` }
  const s = await createSession(app, '6.18')
  await req(app, s, 'POST', '/processes', { name: 'P' })

  clock += 59_000
  ok(t, await call(app, s, 'GET', '/processes'), 200, 'used after 59 s: still there')
  clock += 59_000
  ok(t, await call(app, s, 'GET', '/'), 200, 'each use restarts the idle time')

  clock += 61_000
  const e = expectError(t, await call(app, s, 'GET', '/'), 404, 'not_found', 'idle 61 s: its token gets 404')
  t.same(e.details, { session: s.id })
  expectError(t, await call(app, s, 'POST', '/processes', { name: 'Q' }), 404, 'not_found')
  const wrong = await app.inject({ method: 'GET', url: `${s.base}/`, headers: { authorization: 'Bearer nope' } })
  const unknown = await app.inject({ method: 'GET', url: '/v1/sessions/BBBBBBBBBBBBBBBB/', headers: { authorization: 'Bearer nope' } })
  expectError(t, wrong, 401, 'unauthorized')
  t.equal(wrong.body, unknown.body, 'a wrong token for the expired session learns nothing')

  // A session nobody touches expires too: the admin listing and the session cap must not count it.
  const idle = await createSession(app)
  const busy = await createSession(app)
  let list = ok(t, await app.inject({ method: 'GET', url: '/v1/sessions', headers: admin }))
  t.same(list.sessions.map((x: { id: string }) => x.id).sort(), [idle.id, busy.id].sort())
  clock += 40_000
  ok(t, await call(app, busy, 'GET', '/'))
  clock += 30_000
  list = ok(t, await app.inject({ method: 'GET', url: '/v1/sessions', headers: admin }))
  t.same(list.sessions.map((x: { id: string }) => x.id), [busy.id], 'the admin listing no longer shows the expired session')
  ok(t, await app.inject({ method: 'POST', url: '/v1/sessions', payload: {} }), 201, 'an expired session does not count against MAX_SESSIONS')
  expectError(t, await call(app, idle, 'GET', '/'), 404, 'not_found', 'the untouched session is gone')
})

t.test('GET /v1/sessions: the admin listing', async (t) => {
  t.test('200 with the admin token, 401 without it or with another token', async (t) => {
    const app = await buildTestApp(t, { ADMIN_TOKEN: ADMIN, MAX_SESSIONS: '7' })
    const a = await createSession(app, '6.18')
    const b = await createSession(app, '2.6.11')
    await req(app, a, 'POST', '/processes', { name: 'P' })
    const list = ok(t, await app.inject({ method: 'GET', url: '/v1/sessions', headers: { authorization: `Bearer ${ADMIN}` } }))
    t.equal(list.maxSessions, 7)
    t.same(list.sessions.map((x: { id: string }) => x.id).sort(), [a.id, b.id].sort())
    const la = list.sessions.find((x: { id: string }) => x.id === a.id)
    t.equal(la.kernel, '6.18')
    t.equal(la.counts.processes, 1)
    t.notOk(list.sessions.some((x: object) => 'token' in x), 'no tokens in the listing')
    t.notOk(list.sessions.some((x: object) => JSON.stringify(x).includes(a.token)), 'no token anywhere')

    expectError(t, await app.inject({ method: 'GET', url: '/v1/sessions', headers: { authorization: 'Bearer wrong-admin-token-000' } }), 401, 'unauthorized', 'wrong admin token')
    expectError(t, await app.inject({ method: 'GET', url: '/v1/sessions' }), 401, 'unauthorized', 'no token')
    expectError(t, await app.inject({ method: 'GET', url: '/v1/sessions', headers: a.headers }), 401, 'unauthorized', 'a session token is not the admin token')
    expectError(t, await app.inject({ method: 'GET', url: `/v1/sessions/${a.id}/`, headers: { authorization: `Bearer ${ADMIN}` } }), 401, 'unauthorized', 'the admin token opens no session')
  })
  t.test('403 when no ADMIN_TOKEN is configured', async (t) => {
    const app = await buildTestApp(t)
    await createSession(app)
    expectError(t, await app.inject({ method: 'GET', url: '/v1/sessions' }), 403, 'forbidden')
    expectError(t, await app.inject({ method: 'GET', url: '/v1/sessions', headers: { authorization: `Bearer ${ADMIN}` } }), 403, 'forbidden', 'even with a token')
  })
})

t.test('x-request-id: echoed when the client sends a sane one, generated otherwise', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app)
  const r1 = await app.inject({ method: 'GET', url: `${s.base}/`, headers: { ...s.headers, 'x-request-id': 'client-id.42:a_b' } })
  t.equal(r1.statusCode, 200)
  t.equal(r1.headers['x-request-id'], 'client-id.42:a_b', 'echoed on success')
  const r2 = await app.inject({ method: 'GET', url: `${s.base}/processes/9`, headers: { ...s.headers, 'x-request-id': 'trace-404' } })
  expectError(t, r2, 404, 'not_found')
  t.equal(r2.headers['x-request-id'], 'trace-404', 'echoed on an engine error')
  const r3 = await app.inject({ method: 'GET', url: `${s.base}/`, headers: { 'x-request-id': 'trace-401' } })
  expectError(t, r3, 401)
  t.equal(r3.headers['x-request-id'], 'trace-401', 'echoed on 401')
  const r4 = await app.inject({ method: 'POST', url: `${s.base}/files`, headers: { ...s.headers, 'x-request-id': 'trace-400' }, payload: { name: '' } })
  expectError(t, r4, 400, 'validation')
  t.equal(r4.headers['x-request-id'], 'trace-400', 'echoed on a validation error')
  const r5 = await app.inject({ method: 'GET', url: '/nowhere', headers: { 'x-request-id': 'trace-nf' } })
  expectError(t, r5, 404, 'not_found')
  t.equal(r5.headers['x-request-id'], 'trace-nf', 'echoed on an unknown route')
  for (const bad of ['has spaces', 'x'.repeat(65), 'semi;colon', '<script>']) {
    const r = await app.inject({ method: 'GET', url: `${s.base}/`, headers: { ...s.headers, 'x-request-id': bad } })
    t.match(r.headers['x-request-id'], UUID, `"${bad.slice(0, 10)}" is replaced by a generated id`)
  }
  const a = await app.inject({ method: 'GET', url: `${s.base}/`, headers: s.headers })
  const b = await app.inject({ method: 'GET', url: `${s.base}/`, headers: s.headers })
  t.match(a.headers['x-request-id'], UUID)
  t.not(a.headers['x-request-id'], b.headers['x-request-id'], 'a fresh id per request')
})

t.test('unknown routes and malformed URLs get the one error shape', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app)
  const nf = expectError(t, await app.inject({ method: 'GET', url: '/v2/anything' }), 404, 'not_found')
  t.match(nf.message, /no route GET \/v2\/anything/)
  expectError(t, await app.inject({ method: 'PUT', url: `${s.base}/processes`, headers: s.headers }), 404, 'not_found', 'a method no route has')
  // Framework-level rejections (a path parameter over maxParamLength, a broken %-escape) must not
  // bypass the error handler.
  const long = await app.inject({ method: 'GET', url: `/v1/sessions/${'a'.repeat(300)}`, headers: { 'x-request-id': 'long-id' } })
  t.ok(long.statusCode >= 400 && long.statusCode < 500, `a 300-character session id is a 4xx (got ${long.statusCode})`)
  t.same(errorShapeProblems(long), [], `a 300-character session id: the one error shape (got ${long.body.slice(0, 160)})`)
  t.equal(long.headers['x-request-id'], 'long-id', 'and the request id')
  const longFile = await app.inject({ method: 'GET', url: `${s.base}/files/${'f'.repeat(300)}`, headers: s.headers })
  t.ok(longFile.statusCode >= 400 && longFile.statusCode < 500)
  t.same(errorShapeProblems(longFile), [], `a 300-character file name: the one error shape (got ${longFile.body.slice(0, 160)})`)
  const badEscape = await app.inject({ method: 'GET', url: `${s.base}/files/%E0%A4%A`, headers: s.headers })
  t.equal(badEscape.statusCode, 400)
  t.same(errorShapeProblems(badEscape), [], `a broken %-escape: the one error shape (got ${badEscape.body.slice(0, 160)})`)
})

t.test('GET /docs/json: an OpenAPI 3 document listing every route', async (t) => {
  const app = await buildTestApp(t)
  const res = await app.inject({ method: 'GET', url: '/docs/json' })
  const doc = ok(t, res)
  t.match(doc.openapi, /^3\.\d+\.\d+$/, 'OpenAPI 3')
  t.equal(doc.info.title, 'rmap-sim')
  t.ok(doc.components?.securitySchemes?.bearer, 'the bearer security scheme')
  const S = '/v1/sessions/{sid}'
  const expected: Array<[string, string, string]> = [
    ['post', '/v1/sessions', '201'], ['get', '/v1/sessions', '200'],
    ['get', S, '200'], ['delete', S, '204'],
    ['post', `${S}/files`, '201'], ['get', `${S}/files`, '200'], ['get', `${S}/files/{name}`, '200'], ['post', `${S}/files/{name}/evict`, '200'], ['post', `${S}/files/{name}/writeback`, '200'],
    ['post', `${S}/processes`, '201'], ['get', `${S}/processes`, '200'], ['get', `${S}/processes/{pid}`, '200'],
    ['post', `${S}/processes/{pid}/fork`, '201'], ['post', `${S}/processes/{pid}/exit`, '200'],
    ['post', `${S}/processes/{pid}/mmap`, '201'], ['post', `${S}/processes/{pid}/munmap`, '200'], ['post', `${S}/processes/{pid}/mprotect`, '200'],
    ['post', `${S}/processes/{pid}/mremap`, '200'], ['post', `${S}/processes/{pid}/madvise`, '200'], ['post', `${S}/processes/{pid}/access`, '200'],
    ['get', `${S}/processes/{pid}/translate`, '200'], ['get', `${S}/processes/{pid}/ptes`, '200'],
    ['get', `${S}/frames`, '200'], ['get', `${S}/frames/{pfn}`, '200'], ['get', `${S}/frames/{pfn}/rmap`, '200'],
    ['post', `${S}/frames/{pfn}/referenced`, '200'], ['post', `${S}/frames/{pfn}/unmap`, '200'], ['post', `${S}/frames/{pfn}/mkclean`, '200'], ['post', `${S}/frames/{pfn}/migrate`, '200'],
    ['get', `${S}/check`, '200']
  ]
  for (const [method, path, status] of expected) {
    const op = doc.paths?.[path]?.[method]
    t.ok(op, `${method.toUpperCase()} ${path} is documented`)
    if (op === undefined) continue
    t.ok(op.responses?.[status], `${method.toUpperCase()} ${path} documents its ${status} reply`)
    if (path.startsWith(S)) {
      t.ok(op.responses?.['401'], `${method.toUpperCase()} ${path} documents 401`)
      t.ok((op.parameters ?? []).some((p: { in: string, name: string }) => p.in === 'path' && p.name === 'sid'), `${path} documents :sid`)
    }
  }
  // Every route the server has (but the documentation's own pages and the explorer's page and assets,
  // which printRoutes shows as / and /*) is in the document.
  const norm = (p: string): string => p.replace(/:(\w+)/g, '{$1}').replace(/(.)\/$/, '$1')
  const documented = new Set(Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${norm(p)}`)))
  const explorerPages = new Set(['get /', 'get /*'])
  t.ok(app.hasRoute({ method: 'GET', url: '/' }) && app.hasRoute({ method: 'GET', url: '/explorer/*' }), 'the explorer\'s routes are the hidden / and /explorer/*')
  const undocumented = registeredRoutes(app).filter((r) => !r.includes(' /docs') && !explorerPages.has(r) && !documented.has(r))
  t.same(undocumented, [], 'every registered route is documented')
  t.ok(doc.paths[`${S}/processes/{pid}/mmap`].post.requestBody, 'request bodies are documented')
  const yaml = await app.inject({ method: 'GET', url: '/docs/yaml' })
  t.equal(yaml.statusCode, 200)
  t.match(yaml.body, /openapi: 3\./)
  t.equal(jsonOf(yaml), undefined, 'yaml is not JSON')
})
