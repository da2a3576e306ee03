/**
 * The OpenAPI document (/docs/json) against the server, both ways. Every test app holds every reply
 * to the document (test/helper.ts: a status an operation does not document, or a body its schema
 * rejects, fails the test); this file makes every operation give every status it documents, so the
 * document lists no status an operation cannot return. Statuses that need other settings get their
 * own servers: 429 (RATE_LIMIT_PER_MINUTE=1), 503 (the event loop stalled past under-pressure's 2 s),
 * 403 and the session cap (no ADMIN_TOKEN, MAX_SESSIONS=1), 413 (BODY_LIMIT=1024). 500 is not
 * documented: it is a bug, and any test that provokes one fails by the same hook.
 */
import t from 'tap'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import WebSocket from 'ws'
import { buildTestApp, contractWatchOf, createSession } from '../helper.js'
import { buildWorld, errorShapeProblems, jsonOf, sessionRouteCases, type World } from './api-helpers.js'
import { Contract, type OpenApiDocument, type OperationRef } from './openapi-contract.js'

type Method = 'GET' | 'POST' | 'DELETE'

const ADMIN = 'contract-test-admin-token'
const BODY_LIMIT = 1024
const PROBES = new Set(['health', 'ready', 'metrics'])

const idOf = (op: OperationRef): string => op.operation.operationId ?? `${op.method} ${op.path}`
const statusesOf = (op: OperationRef): number[] => Object.keys(op.operation.responses).map(Number)
const hasBody = (op: OperationRef): boolean => op.method === 'post' || op.method === 'delete'
const isSessionRoute = (op: OperationRef): boolean => op.path.startsWith('/v1/sessions/{sid}')

/** The operation's path with its parameters filled in from a session and its world. */
function urlOf (op: OperationRef, s: { id: string }, w: World): string {
  return op.path.replace('{sid}', s.id).replace('{pid}', String(w.pid)).replace('{pfn}', String(w.anonPfn)).replace('{name}', w.file)
}

/** Blocks the event loop (sleeping, no CPU) until under-pressure reports a stall: ~5 s the first time. */
async function stall (app: FastifyInstance): Promise<void> {
  const cell = new Int32Array(new SharedArrayBuffer(4))
  for (let i = 0; i < 8 && !app.isUnderPressure(); i++) {
    // Longer than under-pressure's 2 s sampling interval: its next sample sees only this one delay.
    Atomics.wait(cell, 0, 0, 2300)
    await new Promise((resolve) => setImmediate(resolve))
  }
  if (!app.isUnderPressure()) throw new Error('could not put the server under pressure')
}

t.test('every operation gives every status its document lists, and every reply keeps the document', async (t) => {
  const app = await buildTestApp(t, { ADMIN_TOKEN: ADMIN, BODY_LIMIT: String(BODY_LIMIT) })
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as OpenApiDocument
  const contract = new Contract(doc)
  const operations = contract.operations()
  const produced = new Set<string>()
  const expectStatus = (res: LightMyRequestResponse, status: number, what: string): void => {
    t.equal(res.statusCode, status, `${what}: ${status} (got ${res.statusCode} ${res.body.slice(0, 200)})`)
    if (status >= 400 && !what.startsWith('ready')) t.same(errorShapeProblems(res), [], `${what}: the one error shape`)
  }
  const send = async (server: FastifyInstance, method: Method, url: string, opts: { headers?: Record<string, string>, payload?: string | object } = {}): Promise<LightMyRequestResponse> =>
    await server.inject({ method, url, headers: opts.headers, payload: opts.payload as string | undefined })

  // ------------------------------------------------------------ the document itself
  t.ok(operations.length >= 37, `${operations.length} operations`)
  for (const op of operations) {
    t.match(op.operation.operationId, /^[a-z][A-Za-z]+$/, `${op.method} ${op.path} has a camelCase operationId`)
    const open = PROBES.has(idOf(op)) || ['createSession', 'generateExercise', 'exerciseSession'].includes(idOf(op))
    t.same(op.operation.security ?? doc.security, open ? [] : [{ bearer: [] }], `${idOf(op)}: ${open ? 'no token' : 'a bearer token'}`)
    for (const [status, r] of Object.entries(op.operation.responses)) {
      if (Number(status) >= 400 && !(idOf(op) === 'ready' && status === '503')) {
        t.same(r.content?.['application/json']?.schema, { $ref: '#/components/schemas/Error' }, `${idOf(op)} ${status}: the Error shape`)
      }
    }
  }
  t.equal(new Set(operations.map(idOf)).size, operations.length, 'operationIds are unique')
  t.same(Object.keys(doc.components?.schemas ?? {}).filter((n) => n.endsWith('Input')), [], 'no XxxInput duplicates of the components')
  t.notOk(Object.keys(doc.paths).some((p) => p.length > 1 && p.endsWith('/')), 'no path has a trailing slash')

  // ------------------------------------------------------------ success replies
  // One valid request for each session route (api-helpers), each in a fresh session: one deletes it.
  const s = await createSession(app)
  const w = await buildWorld(app, s)
  for (let i = 0; i < sessionRouteCases(w).length; i++) {
    const fresh = await createSession(app)
    const c = sessionRouteCases(await buildWorld(app, fresh))[i]
    const res = await send(app, c.method, `${fresh.base}${c.path}`, { headers: fresh.headers, payload: c.body as object | undefined })
    t.ok(res.statusCode >= 200 && res.statusCode < 300, `${c.method} ${c.route}: ${res.statusCode}`)
  }
  expectStatus(await send(app, 'POST', '/v1/sessions', { payload: { kernel: '2.6.11' } }), 201, 'createSession')
  expectStatus(await send(app, 'GET', '/v1/sessions', { headers: { authorization: `Bearer ${ADMIN}` } }), 200, 'listSessions')
  const spec = { topic: 'anon-walk', seed: 1, kernel: '6.18', difficulty: 1 }
  const admin = { authorization: `Bearer ${ADMIN}` }
  expectStatus(await send(app, 'POST', '/v1/exercises', { payload: spec }), 200, 'generateExercise')
  expectStatus(await send(app, 'POST', '/v1/exercises/key', { headers: admin, payload: spec }), 200, 'exerciseKey')
  expectStatus(await send(app, 'POST', '/v1/exercises/session', { payload: spec }), 201, 'exerciseSession')
  expectStatus(await send(app, 'POST', '/v1/exercises/grade', { headers: admin, payload: { exercise: spec, answers: {} } }), 200, 'gradeExercise')
  expectStatus(await send(app, 'POST', '/v1/exercises', { payload: { ...spec, topic: 'nope' } }), 400, 'generateExercise of an unknown topic')
  for (const url of ['/health', '/ready', '/metrics']) expectStatus(await send(app, 'GET', url), 200, url)
  expectStatus(await send(app, 'POST', `${s.base}/ops`, { headers: s.headers, payload: { ops: [{ op: 'spawn', proc: 'Q' }] } }), 200, 'applyOps')
  expectStatus(await send(app, 'GET', `${s.base}/snapshot`, { headers: s.headers }), 200, 'getSnapshot')
  expectStatus(await send(app, 'GET', `${s.base}/journal`, { headers: s.headers }), 200, 'getJournal')
  expectStatus(await send(app, 'POST', `${s.base}/compare`, { headers: s.headers, payload: { target: 'frame', pfn: w.anonPfn, expect: { mapcount: 2 } } }), 200, 'compare')

  // The WebSocket upgrade (101) happens outside fastify's reply cycle: seen by the client.
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const upgraded = await new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${s.base}/events`, { headers: s.headers })
    let status = 0
    ws.once('upgrade', (res) => { status = res.statusCode ?? 0 })
    ws.once('message', (data) => {
      t.equal((JSON.parse(data.toString()) as { type: string }).type, 'hello', 'subscribeEvents: the first message is hello')
      ws.close()
      resolve(status)
    })
    ws.once('error', reject)
    setTimeout(() => { reject(new Error('no hello within 5 s')) }, 5000).unref()
  })
  t.equal(upgraded, 101, 'subscribeEvents: 101 Switching Protocols')
  if (upgraded === 101) produced.add('subscribeEvents 101')

  // ------------------------------------------------------------ errors every session route shares
  const ended = await createSession(app)
  expectStatus(await send(app, 'DELETE', ended.base, { headers: ended.headers }), 204, 'deleteSession')
  for (const op of operations) {
    const method = op.method.toUpperCase() as Method
    const statuses = statusesOf(op)
    if (statuses.includes(401)) {
      const headers: Record<string, string> = ['listSessions', 'exerciseKey', 'gradeExercise'].includes(idOf(op)) ? { authorization: 'Bearer not-the-admin-token' } : {}
      expectStatus(await send(app, method, urlOf(op, s, w), { headers }), 401, `${idOf(op)} without its token`)
    }
    if (statuses.includes(404) && isSessionRoute(op)) {
      expectStatus(await send(app, method, urlOf(op, ended, w), { headers: ended.headers }), 404, `${idOf(op)} of an ended session`)
    }
    if (!hasBody(op)) continue
    // Every POST and DELETE parses a body, whether or not it takes one: malformed, too large, not JSON.
    // (DELETE of the session: another one, in case a body got through to the handler.)
    const owner = idOf(op) === 'deleteSession' ? await createSession(app) : s
    const headers: Record<string, string> = { ...(isSessionRoute(op) ? owner.headers : {}), 'content-type': 'application/json' }
    const target = urlOf(op, owner, w)
    if (statuses.includes(400)) expectStatus(await send(app, method, target, { headers, payload: '{"pages": ' }), 400, `${idOf(op)} with malformed JSON`)
    if (statuses.includes(413)) expectStatus(await send(app, method, target, { headers, payload: JSON.stringify({ name: 'x'.repeat(BODY_LIMIT) }) }), 413, `${idOf(op)} with a body over BODY_LIMIT`)
    if (statuses.includes(415)) expectStatus(await send(app, method, target, { headers: { ...headers, 'content-type': 'application/xml' }, payload: '<x/>' }), 415, `${idOf(op)} with an XML body`)
  }

  // ------------------------------------------------------------ 409: an Idempotency-Key reused
  // Every POST of a session takes an Idempotency-Key: one used before for another request is a 409.
  const bodies = new Map(sessionRouteCases(w).map((c) => [`${c.method} ${c.route}`, c.body]))
  bodies.set('POST /ops', { ops: [{ op: 'spawn', proc: 'keyed' }] })
  bodies.set('POST /compare', { target: 'frame', pfn: w.anonPfn, expect: { mapcount: 2 } })
  for (const op of operations) {
    if (op.method !== 'post' || !isSessionRoute(op) || !statusesOf(op).includes(409)) continue
    const route = op.path.replace('/v1/sessions/{sid}', '').replace(/\{(\w+)\}/g, ':$1')
    const key = `contract-${idOf(op)}`
    const claim = route === '/files' ? { url: `${s.base}/processes`, payload: { name: `claims-${key}` } } : { url: `${s.base}/files`, payload: { name: `claims-${key}`, pages: 1 } }
    expectStatus(await send(app, 'POST', claim.url, { headers: { ...s.headers, 'idempotency-key': key }, payload: claim.payload }), 201, `a keyed request taking ${key}`)
    expectStatus(await send(app, 'POST', urlOf(op, s, w), { headers: { ...s.headers, 'idempotency-key': key }, payload: bodies.get(`POST ${route}`) ?? {} }), 409, `${idOf(op)} with an Idempotency-Key used for another request`)
  }

  // ------------------------------------------------------------ errors of particular operations
  const h = s.headers
  const at = (path: string): string => `${s.base}${path}`
  // 400 from the query or path parameters of GET routes.
  const badGets: Record<string, string> = {
    getFile: '/files/',
    getProcess: '/processes/0',
    listProcesses: '/processes?vmas=sometimes',
    translate: `/processes/${w.pid}/translate`,
    listPtes: `/processes/${w.pid}/ptes?limit=0`,
    listFrames: '/frames?limit=0',
    getFrame: '/frames/x',
    rmapWalk: '/frames/x/rmap',
    subscribeEvents: '/events?since=-1'
  }
  for (const [id, path] of Object.entries(badGets)) expectStatus(await send(app, 'GET', at(path), { headers: h }), 400, `${id} with a bad parameter`)
  // 404: what the request names does not exist.
  expectStatus(await send(app, 'GET', at('/files/nope'), { headers: h }), 404, 'getFile of an unknown file')
  expectStatus(await send(app, 'POST', at('/processes/999/mmap'), { headers: h, payload: { pages: 1 } }), 404, 'mmap in an unknown process')
  // 400 from the engine (invalid_argument) and from validation.
  expectStatus(await send(app, 'POST', at(`/processes/${w.pid}/munmap`), { headers: h, payload: { addr: '0x10000001', pages: 1 } }), 400, 'munmap of an unaligned address')
  expectStatus(await send(app, 'POST', '/v1/sessions', { payload: { kernel: '9.9' } }), 400, 'createSession of an unknown kernel')
  // 409: EEXIST.
  expectStatus(await send(app, 'POST', at('/files'), { headers: h, payload: { name: w.file, pages: 1 } }), 409, 'createFile of a taken name')
  expectStatus(await send(app, 'POST', at('/processes'), { headers: h, payload: { name: 'P' } }), 409, 'spawnProcess of a taken name')
  expectStatus(await send(app, 'POST', at(`/processes/${w.pid}/fork`), { headers: h, payload: { name: 'C' } }), 409, 'fork to a taken name')
  expectStatus(await send(app, 'POST', at(`/processes/${w.pid}/mmap`), { headers: h, payload: { addr: '0x10000000', pages: 1 } }), 409, 'mmap over a mapping (MAP_FIXED_NOREPLACE)')
  // 422: a signal, an rmap operation on the zero page, a failed atomic batch.
  expectStatus(await send(app, 'POST', at(`/processes/${w.pid}/access`), { headers: h, payload: { addr: '0x40000000', op: 'read' } }), 422, 'access to an unmapped address (segfault)')
  for (const op of ['referenced', 'unmap', 'mkclean', 'migrate']) {
    expectStatus(await send(app, 'POST', at(`/frames/4096/${op}`), { headers: h }), 422, `${op} of the zero page (unsupported)`)
  }
  expectStatus(await send(app, 'POST', at('/ops'), { headers: h, payload: { ops: [{ op: 'exit', pid: 999 }] } }), 422, 'applyOps: an atomic batch whose op fails')
  const old = await createSession(app, '2.6.11')
  const oldPid = (await send(app, 'POST', `${old.base}/processes`, { headers: old.headers, payload: {} })).json<{ pid: number }>().pid
  await send(app, 'POST', `${old.base}/processes/${oldPid}/mmap`, { headers: old.headers, payload: { addr: '0x10000000', pages: 1 } })
  expectStatus(await send(app, 'POST', `${old.base}/processes/${oldPid}/madvise`, { headers: old.headers, payload: { addr: '0x10000000', pages: 1, advice: 'dontfork' } }), 422, 'madvise(MADV_DONTFORK) in a 2.6.11 session (unsupported)')
  // 426: the WebSocket route without the upgrade.
  expectStatus(await send(app, 'GET', at('/events'), { headers: h }), 426, 'subscribeEvents without Upgrade')
  // 413: limits above the server's.
  expectStatus(await send(app, 'POST', '/v1/sessions', { payload: { limits: { maxFrames: 1 << 30 } } }), 413, 'createSession asking for more than the server allows')
  // 429 from the engine: a session limit.
  const small = await createSession(app, '6.18', { maxProcesses: 1 })
  expectStatus(await send(app, 'POST', `${small.base}/processes`, { headers: small.headers }), 201, 'spawnProcess')
  expectStatus(await send(app, 'POST', `${small.base}/processes`, { headers: small.headers }), 429, 'spawnProcess past maxProcesses')
  for (const x of contractWatchOf(app).seen) produced.add(x)

  // ------------------------------------------------------------ the session cap, no admin token
  const capped = await buildTestApp(t, { MAX_SESSIONS: '1' })
  await createSession(capped)
  expectStatus(await send(capped, 'POST', '/v1/sessions', { payload: {} }), 429, 'createSession at MAX_SESSIONS')
  expectStatus(await send(capped, 'GET', '/ready'), 503, 'ready at MAX_SESSIONS')
  t.equal((jsonOf(await send(capped, 'GET', '/ready')) as { ready: boolean }).ready, false, 'ready: false')
  expectStatus(await send(capped, 'GET', '/v1/sessions', { headers: { authorization: `Bearer ${ADMIN}` } }), 403, 'listSessions with no ADMIN_TOKEN configured')
  for (const [id, url] of [['exerciseKey', '/v1/exercises/key'], ['gradeExercise', '/v1/exercises/grade']]) {
    expectStatus(await send(capped, 'POST', url, { headers: { authorization: `Bearer ${ADMIN}` }, payload: {} }), 403, `${id} with no ADMIN_TOKEN configured`)
  }
  for (const x of contractWatchOf(capped).seen) produced.add(x)
  const tiny = await buildTestApp(t, { SESSION_MAX_PROCESSES: '1' })
  expectStatus(await send(tiny, 'POST', '/v1/exercises/session', { payload: { topic: 'anon-walk', seed: 1 } }), 422, 'exerciseSession whose setup the session limits cannot hold')
  t.equal(tiny.sessions.list().length, 0, 'and no session is left behind')
  for (const x of contractWatchOf(tiny).seen) produced.add(x)

  // ------------------------------------------------------------ the rate limiter: 429 before anything else
  const limited = await buildTestApp(t, { RATE_LIMIT_PER_MINUTE: '1', ADMIN_TOKEN: ADMIN })
  const ls = await createSession(limited)
  for (const op of operations) {
    const res = await send(limited, op.method.toUpperCase() as Method, urlOf(op, ls, w), { headers: ls.headers })
    if (PROBES.has(idOf(op))) t.equal(res.statusCode, 200, `${idOf(op)} is never rate limited`)
    else expectStatus(res, 429, `${idOf(op)} over RATE_LIMIT_PER_MINUTE`)
  }
  for (const x of contractWatchOf(limited).seen) produced.add(x)

  // ------------------------------------------------------------ load shedding: 503 while the event loop stalls
  const pressed = await buildTestApp(t, { ADMIN_TOKEN: ADMIN })
  const ps = await createSession(pressed)
  for (const op of operations) {
    await stall(pressed)
    const res = await send(pressed, op.method.toUpperCase() as Method, urlOf(op, ps, w), { headers: ps.headers })
    if (idOf(op) === 'ready') t.equal(res.statusCode, 503, 'ready: 503 (not ready) under pressure')
    else if (PROBES.has(idOf(op))) t.equal(res.statusCode, 200, `${idOf(op)} is never refused under pressure`)
    else expectStatus(res, 503, `${idOf(op)} under pressure`)
  }
  for (const x of contractWatchOf(pressed).seen) produced.add(x)

  // ------------------------------------------------------------ both ways
  const documented = operations.flatMap((op) => statusesOf(op).map((status) => `${idOf(op)} ${status}`))
  t.same(documented.filter((x) => !produced.has(x)), [], 'every documented (operationId, status) was produced by a request above')
  t.same([...produced].filter((x) => !documented.includes(x)), [], 'every (operationId, status) produced is documented (the hook also fails the test on one)')
})

t.test('the contract check itself: what it refuses', async (t) => {
  const app = await buildTestApp(t)
  const contract = new Contract((await app.inject({ method: 'GET', url: '/docs/json' })).json() as OpenApiDocument)
  const json = 'application/json; charset=utf-8'
  const mmap = { method: 'POST', route: '/v1/sessions/:sid/processes/:pid/mmap', contentType: json }
  const error = JSON.stringify({ error: { code: 'conflict', message: 'taken' } })
  t.same(contract.check({ ...mmap, status: 409, body: error }), [], 'a documented error status with the Error shape passes')
  t.match(contract.check({ ...mmap, status: 422, body: error }), [/status 422 is not documented for mmap/], 'an undocumented status')
  t.match(contract.check({ ...mmap, status: 500, body: error }), [/status 500 is not documented/], 'a 500')
  t.match(contract.check({ ...mmap, status: 201, body: '{"id":1}' }), [/mmap 201: body must have required property/], 'a reply body its schema rejects')
  t.match(contract.check({ ...mmap, status: 409, body: JSON.stringify({ error: { code: 'x', message: 'y', stack: 'at ...' } }) }), [/must NOT have additional properties/], 'an error with extra fields')
  t.match(contract.check({ ...mmap, status: 409, contentType: 'text/html', body: '<p>' }), [/content type text\/html is not documented/], 'an undocumented content type')
  t.match(contract.check({ method: 'DELETE', route: '/v1/sessions/:sid/', status: 204, contentType: json, body: '{}' }), [/deleteSession 204 documents no body/], 'a body where the response has none (the trailing-slash alias is the same operation)')
  t.match(contract.check({ method: 'GET', route: '/v1/nowhere', status: 200, contentType: json, body: '{}' }), [/is not in the document/], 'a route the document does not have')
  t.same(contract.check({ method: 'GET', route: '/docs/json', status: 200, contentType: json, body: '{}' }, true), [], 'but the documentation\'s own (hidden) pages are not the API')
  t.match(contract.check({ method: 'GET', route: undefined, status: 404, contentType: json, body: '{"nope":1}' }), [/body must have required property 'error'/], 'a reply no route made must still be an Error')
  t.same(contract.check({ method: 'GET', route: '/metrics', status: 200, contentType: 'text/plain; version=0.0.4; charset=utf-8', body: '# HELP x\n' }), [], '/metrics: text')
})
