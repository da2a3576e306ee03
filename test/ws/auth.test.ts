/**
 * Authentication of the event socket, decided before the upgrade (HTTP status on the refused
 * handshake); the browser ways of passing the token (?token=, subprotocol "bearer.<token>"); a plain
 * GET without upgrade.
 */
import t from 'tap'
import { connect, eventsUrl, newSession, ok, refused, request, startServer } from './ws-helpers.js'

const WRONG = 'A'.repeat(43)

t.test('refused before the upgrade: no token, wrong token, unknown session 401; deleted session 404', async (t) => {
  const srv = await startServer(t)
  const s = await newSession(srv, '6.18')
  const other = await newSession(srv, '6.18')
  const url = eventsUrl(srv, s.id)
  const bearer = (token: string): { headers: Record<string, string> } => ({ headers: { authorization: `Bearer ${token}` } })

  const cases: Array<[string, Promise<{ status: number, body: any }>, number, string]> = [
    ['no token', refused(t, url), 401, 'unauthorized'],
    ['wrong token (header)', refused(t, url, bearer(WRONG)), 401, 'unauthorized'],
    ['wrong token (?token=)', refused(t, eventsUrl(srv, s.id, `token=${WRONG}`)), 401, 'unauthorized'],
    ['wrong token (subprotocol)', refused(t, url, { protocols: [`bearer.${WRONG}`] }), 401, 'unauthorized'],
    ["another session's token", refused(t, url, bearer(other.token)), 401, 'unauthorized'],
    ['unknown session id, no token', refused(t, eventsUrl(srv, 'no-such-session')), 401, 'unauthorized'],
    ['unknown session id, some token', refused(t, eventsUrl(srv, 'no-such-session'), bearer(s.token)), 401, 'unauthorized'],
    ['malformed authorization header', refused(t, url, { headers: { authorization: `Basic ${s.token}` } }), 401, 'unauthorized']
  ]
  for (const [what, p, status, code] of cases) {
    const r = await p
    t.equal(r.status, status, `${what}: ${status}`)
    t.equal(r.body?.error?.code, code, `${what}: ${code}`)
    t.type(r.body?.error?.message, 'string', `${what}: a message`)
  }

  // the right token still works, then the session is deleted
  const { client } = await connect(t, srv, s)
  t.ok(client.open, 'the right token opens the socket')
  const del = await request(srv, 'DELETE', s.base, { token: s.token })
  t.equal(del.status, 204)
  const gone = await refused(t, url, bearer(s.token))
  t.equal(gone.status, 404, 'the right token of a deleted session: 404')
  t.equal(gone.body?.error?.code, 'not_found')
  const goneQuery = await refused(t, eventsUrl(srv, s.id, `token=${encodeURIComponent(s.token)}`))
  t.equal(goneQuery.status, 404, 'the same with ?token=')
  const goneWrong = await refused(t, url, bearer(WRONG))
  t.equal(goneWrong.status, 401, 'a wrong token for a deleted session still learns nothing: 401')
})

t.test('browsers: ?token= and the subprotocol "bearer.<token>" both open the stream', async (t) => {
  const srv = await startServer(t)
  const s = await newSession(srv, '6.18')
  const q = await connect(t, srv, s, `token=${encodeURIComponent(s.token)}&types=process`, { auth: 'none' })
  t.equal(q.hello.session, s.id, '?token=: hello')
  t.same(q.hello.filter, { types: ['process'] }, 'the token is not part of the filter')
  t.notOk(JSON.stringify(q.hello).includes(s.token), 'hello does not repeat the token')

  const p = await connect(t, srv, s, '', { auth: 'none', protocols: [`bearer.${s.token}`] })
  t.equal(p.hello.session, s.id, 'subprotocol: hello')
  t.equal(p.client.ws.protocol, `bearer.${s.token}`, 'the server accepts the subprotocol the browser offered')

  const both = await connect(t, srv, s, '', { auth: 'none', protocols: ['rmap.v1', `bearer.${s.token}`] })
  t.equal(both.hello.session, s.id, 'the bearer subprotocol may come after another one')

  // both sockets are live
  await ok(srv, s, 'POST', '/processes', {})
  t.match(await q.client.next(5000, 'event'), { type: 'process.spawned', pid: 1 })
  t.match(await p.client.next(5000, 'event'), [{ type: 'frame.allocated' }, { type: 'process.spawned' }])
  t.match(await both.client.next(5000, 'event'), [{ type: 'frame.allocated' }, { type: 'process.spawned' }])
})

t.test('?token= and the subprotocol are for upgrades only: a plain request needs the header', async (t) => {
  const srv = await startServer(t)
  const s = await newSession(srv, '6.18')
  const r = await request(srv, 'GET', `${s.base}?token=${encodeURIComponent(s.token)}`)
  t.equal(r.status, 401, 'GET /v1/sessions/:sid?token= is not authenticated')
  const p = await request(srv, 'GET', s.base, { headers: { 'sec-websocket-protocol': `bearer.${s.token}` } })
  t.equal(p.status, 401, 'nor with the subprotocol header alone')
})

t.test('a plain GET of the events route gets 426 with the JSON error shape', async (t) => {
  const srv = await startServer(t)
  const s = await newSession(srv, '6.18')
  const r = await request(srv, 'GET', `${s.base}/events`, { token: s.token })
  t.equal(r.status, 426)
  t.match(r.headers.get('content-type') ?? '', /^application\/json/)
  t.ok(r.requestId.length > 0, 'x-request-id')
  t.same(Object.keys(r.body ?? {}), ['error'])
  t.equal(r.body.error.code, 'validation')
  t.match(r.body.error.message, /WebSocket/)
  t.same(Object.keys(r.body.error).filter((k) => !['code', 'message', 'details'].includes(k)), [], 'only code, message, details')
  const noAuth = await request(srv, 'GET', `${s.base}/events`)
  t.equal(noAuth.status, 401, 'without the token: 401 first')
  t.equal(noAuth.body?.error?.code, 'unauthorized')
})
