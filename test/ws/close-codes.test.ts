/**
 * Close codes of the event stream: 4000 when the session is deleted, 4001 when it expires, 1001 when
 * the server shuts down.
 */
import t from 'tap'
import WebSocket from 'ws'
import { connect, eventsUrl, newSession, ok, refused, request, serverSession, startServer, until, withTimeout } from './ws-helpers.js'

t.test('DELETE of the session closes its sockets with 4000, and only its sockets', async (t) => {
  const srv = await startServer(t)
  const s = await newSession(srv, '6.18')
  const other = await newSession(srv, '6.18')
  const a = await connect(t, srv, s)
  const b = await connect(t, srv, s, 'types=pte')
  const o = await connect(t, srv, other)
  const del = await request(srv, 'DELETE', s.base, { token: s.token })
  t.equal(del.status, 204)
  for (const c of [a, b]) {
    const closed = await c.client.closed()
    t.equal(closed.code, 4000, 'closed with 4000')
    t.match(closed.reason, /deleted/)
  }
  t.ok(o.client.open, "another session's socket stays open")
  await ok(srv, other, 'POST', '/processes', {})
  t.match(await o.client.next(2000, 'event'), [{ type: 'frame.allocated' }, { type: 'process.spawned' }], 'and keeps streaming')
  const again = await refused(t, eventsUrl(srv, s.id), { headers: { authorization: `Bearer ${s.token}` } })
  t.equal(again.status, 404, 'reconnecting to the deleted session: 404')
})

t.test('session expiry (the clock of buildApp) closes its sockets with 4001', async (t) => {
  let clock = 1_700_000_000_000
  const srv = await startServer(t, { SESSION_IDLE_SECONDS: '60' }, () => clock)
  const s = await newSession(srv, '6.18')
  const keep = await newSession(srv, '6.18')
  const c = await connect(t, srv, s)
  clock += 30_000
  await ok(srv, keep, 'GET', '')
  t.ok(c.client.open, 'not idle long enough yet')
  clock += 31_000
  // The session is found expired by the next request that looks at it.
  const r = await request(srv, 'GET', s.base, { token: s.token })
  t.equal(r.status, 404, 'the expired session answers 404')
  const closed = await c.client.closed()
  t.equal(closed.code, 4001, 'closed with 4001')
  t.match(closed.reason, /expired/)
  t.ok(serverSession(srv, keep), 'the session used 31 s ago is still there')
})

t.test('session expiry by the sweeper (SESSION_IDLE_SECONDS=1, no request at all) closes with 4001', async (t) => {
  const srv = await startServer(t, { SESSION_IDLE_SECONDS: '1' })
  const s = await newSession(srv, '6.18')
  const c = await connect(t, srv, s)
  const closed = await c.client.closed(5000)
  t.equal(closed.code, 4001, 'closed with 4001 by the idle sweep')
  t.equal(srv.app.sessions.get(s.id), undefined, 'the session is gone')
})

t.test('app.close() closes every socket with 1001 and finishes promptly', async (t) => {
  const srv = await startServer(t)
  const s1 = await newSession(srv, '6.18')
  const s2 = await newSession(srv, '2.6.11')
  const clients = [await connect(t, srv, s1), await connect(t, srv, s1, 'since=0'), await connect(t, srv, s2, 'types=pte')]
  const started = Date.now()
  await withTimeout(srv.close(), 5000, 'app.close()')
  t.ok(Date.now() - started < 3000, `app.close() took ${Date.now() - started} ms`)
  for (const c of clients) {
    const closed = await c.client.closed()
    t.equal(closed.code, 1001, 'closed with 1001')
    t.match(closed.reason, /shutting down/)
  }
  // nothing listens any more
  const ws = new WebSocket(eventsUrl(srv, s1.id), { headers: { authorization: `Bearer ${s1.token}` } })
  const err = await withTimeout(new Promise<Error>((resolve) => { ws.on('error', resolve) }), 5000, 'a connection error')
  t.match(String((err as NodeJS.ErrnoException).code), /ECONNREFUSED|ECONNRESET/, 'a new connection is refused')
})

t.test('a client that never answers the close frame does not hold up the shutdown', async (t) => {
  const srv = await startServer(t)
  const s = await newSession(srv, '6.18')
  const stuck = await connect(t, srv, s)
  const fine = await connect(t, srv, s)
  stuck.client.ws.pause()
  const started = Date.now()
  await withTimeout(srv.close(), 5000, 'app.close() with a stuck client')
  t.ok(Date.now() - started < 3000, `app.close() took ${Date.now() - started} ms`)
  t.equal((await fine.client.closed()).code, 1001)
  stuck.client.ws.resume()
  const closed = await stuck.client.closed()
  t.ok(closed.code === 1001 || closed.code === 1006, `the stuck client ends up closed (${closed.code})`)
})

t.test('a client closing its own socket leaves the hub', async (t) => {
  const srv = await startServer(t)
  const s = await newSession(srv, '6.18')
  const hub = serverSession(srv, s).events
  const c = await connect(t, srv, s)
  t.equal(hub.subscribers.size, 1)
  c.client.ws.close(1000, 'bye')
  t.equal((await c.client.closed()).code, 1000)
  await until(() => hub.subscribers.size === 0, 2000, 'the subscriber to leave')
  t.equal(hub.subscribers.size, 0)
  await ok(srv, s, 'POST', '/processes', {})
  t.pass('events with no subscriber left are fine')
})
