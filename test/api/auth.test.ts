import t from 'tap'
import { Agent, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { buildTestApp, createSession } from '../helper.js'
import { buildWorld, expectError, fingerprint, sessionRouteCases, type RouteCase } from './api-helpers.js'

/** Every session route: 401 for a missing, wrong or foreign token (same body whether or not the session exists), 404 once it ended. */

const inject = async (app: Awaited<ReturnType<typeof buildTestApp>>, sid: string, c: RouteCase, headers: Record<string, string>, body = c.body) =>
  await app.inject({ method: c.method, url: `/v1/sessions/${sid}${c.path}`, headers, payload: body as Record<string, unknown> | undefined })

t.test('every session route answers its valid request (sanity of the route table)', async (t) => {
  const app = await buildTestApp(t)
  const probe = await createSession(app, '6.18')
  const cases = sessionRouteCases(await buildWorld(app, probe))
  for (const c of cases) {
    const s = await createSession(app, '6.18')
    await buildWorld(app, s)
    const res = await inject(app, s.id, c, s.headers)
    t.ok(res.statusCode >= 200 && res.statusCode < 300, `${c.method} ${c.route}: ${res.statusCode} ${res.body.slice(0, 200)}`)
  }
})

t.test('401 on every session route; the reply is the same for an unknown session; nothing runs', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18')
  const other = await createSession(app, '6.18')
  const w = await buildWorld(app, s)
  await buildWorld(app, other)
  const before = await fingerprint(app, s)
  const beforeOther = await fingerprint(app, other)
  const unknown = 'ZZZZZZZZZZZZZZZZ'
  const variants: Array<[string, Record<string, string>]> = [
    ['no Authorization header', {}],
    ['a wrong token', { authorization: 'Bearer wrong-token-wrong-token-wrong-token' }],
    ["another session's token", other.headers],
    ['a truncated token', { authorization: `Bearer ${s.token.slice(0, -1)}` }],
    ['the token without the scheme', { authorization: s.token }],
    ['Basic auth', { authorization: 'Basic ' + Buffer.from(`user:${s.token}`).toString('base64') }],
    ['an empty header', { authorization: '' }],
    ['garbage', { authorization: 'Bearer \u00ff\u00fe\u00fd' }]
  ]
  for (const c of sessionRouteCases(w)) {
    for (const [label, headers] of variants) {
      const res = await inject(app, s.id, c, headers)
      expectError(t, res, 401, 'unauthorized', `${c.method} ${c.route} with ${label}`)
      const forUnknown = await inject(app, unknown, c, headers)
      t.equal(forUnknown.statusCode, 401)
      t.equal(res.body, forUnknown.body, `${c.method} ${c.route} with ${label}: the same body for an unknown session`)
    }
    if (c.body !== undefined) {
      const bad = await inject(app, s.id, c, {}, { nonsense: true })
      expectError(t, bad, 401, 'unauthorized', `${c.method} ${c.route}: authentication comes before validation`)
    }
  }
  t.equal(await fingerprint(app, s), before, 'no unauthenticated request changed the session')
  t.equal(await fingerprint(app, other), beforeOther, "nor the token owner's session")
})

t.test('404 on every session route for the right token of a deleted session; 401 for a wrong one', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18')
  const w = await buildWorld(app, s)
  const del = await app.inject({ method: 'DELETE', url: `${s.base}/`, headers: s.headers })
  t.equal(del.statusCode, 204)
  for (const c of sessionRouteCases(w)) {
    const e = expectError(t, await inject(app, s.id, c, s.headers), 404, 'not_found', `${c.method} ${c.route}`)
    t.same(e.details, { session: s.id })
    const wrong = await inject(app, s.id, c, { authorization: 'Bearer nope' })
    const unknown = await inject(app, 'YYYYYYYYYYYYYYYY', c, { authorization: 'Bearer nope' })
    expectError(t, wrong, 401, 'unauthorized', `${c.method} ${c.route} with a wrong token`)
    t.equal(wrong.body, unknown.body, 'a deleted session looks like an unknown one to a wrong token')
  }
})

t.test('one keep-alive connection: a verified header is trusted again only for the same live session', async (t) => {
  let clock = 1_000_000
  const app = await buildTestApp(t, { SESSION_IDLE_SECONDS: '60' }, () => clock)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => { agent.destroy() })
  const get = async (path: string, headers: Record<string, string>): Promise<{ status: number, body: string, reused: boolean }> =>
    await new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => { body += c })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket }) })
      })
      req.on('error', reject)
      req.end()
    })
  const a = await createSession(app, '6.18')
  const b = await createSession(app, '6.18')
  const first = await get(a.base, a.headers)
  t.equal(first.status, 200)
  const again = await get(a.base, a.headers)
  t.equal(again.status, 200, 'the same header again')
  t.ok(again.reused, 'on the same connection')
  t.equal((await get(b.base, a.headers)).status, 401, "a's verified header does not open b")
  t.equal((await get(a.base, { authorization: `Bearer ${a.token.slice(0, -1)}x` })).status, 401, 'a different token of the same length')
  t.equal((await get(a.base, {})).status, 401, 'no header')
  t.equal((await get(b.base, b.headers)).status, 200, "b's own header")
  t.equal((await get(a.base, a.headers)).status, 200, 'a again after b')
  const requestsBefore = app.sessions.get(a.id)!.requests
  await get(a.base, a.headers)
  t.equal(app.sessions.get(a.id)!.requests, requestsBefore + 1, 'a trusted header still counts the request')
  clock += 61_000
  const expired = await get(a.base, a.headers)
  t.equal(expired.status, 404, 'idle too long: the session has ended, connection or not')
  t.ok(expired.reused)
  clock -= 61_000
  const c = await createSession(app, '6.18')
  t.equal((await get(c.base, c.headers)).status, 200)
  t.equal((await app.inject({ method: 'DELETE', url: c.base, headers: c.headers })).statusCode, 204)
  t.equal((await get(c.base, c.headers)).status, 404, 'deleted: 404 on the connection that had verified it')
  t.equal((await get(c.base, c.headers)).status, 404, 'and again')
})
