/**
 * The ping/pong heartbeat: a client that answers pings stays connected; one that does not is
 * terminated by the server.
 */
import t from 'tap'
import { connect, metric, newSession, ok, serverSession, startServer, until } from './ws-helpers.js'

// Generous: a pong the loaded test machine cannot send within one interval terminates a healthy client.
const INTERVAL = 250

t.test('a healthy client gets pings and stays; a silent one is terminated', async (t) => {
  const srv = await startServer(t, { WS_PING_INTERVAL_MS: String(INTERVAL) })
  const s = await newSession(srv, '6.18')
  const hub = serverSession(srv, s).events
  const healthy = await connect(t, srv, s)
  const silent = await connect(t, srv, s, '', { autoPong: false })
  t.equal(hub.subscribers.size, 2)

  const closed = await silent.client.closed(20 * INTERVAL)
  t.equal(closed.code, 1006, 'terminated without a close frame (no pong)')
  t.ok(silent.client.pings >= 1, `it was pinged (${silent.client.pings} time(s)) first`)
  t.ok(silent.client.pings <= 3, 'and dropped within a few intervals')
  await until(() => hub.subscribers.size === 1, 2000, 'the silent subscriber to leave the hub')
  t.equal(await metric(srv, 'rmap_ws_dropped_total{reason="heartbeat"}'), 1, '/metrics counts the dead peer')

  // well past the point where a silent client is dropped
  await healthy.client.waitUntil(() => healthy.client.pings >= 8, 50 * INTERVAL, '8 pings')
  t.ok(healthy.client.pings >= 8, `the healthy client was pinged ${healthy.client.pings} times`)
  t.ok(healthy.client.open, 'and is still connected')
  t.equal(healthy.client.closeInfo, null)
  await ok(srv, s, 'POST', '/processes', {})
  t.match(await healthy.client.next(2000, 'event'), [{ type: 'frame.allocated' }, { type: 'process.spawned' }], 'and still receives events')
  t.match(await healthy.client.settle(), { type: 'pong', seq: 2 }, 'and answers its own pings')
})

t.test('a client that stops answering later is terminated too', async (t) => {
  const srv = await startServer(t, { WS_PING_INTERVAL_MS: String(INTERVAL) })
  const s = await newSession(srv, '6.18')
  const c = await connect(t, srv, s, '', { autoPong: false })
  // answer by hand for a while
  let answer = true
  c.client.ws.on('ping', (data) => { if (answer) c.client.ws.pong(data) })
  await c.client.waitUntil(() => c.client.pings >= 5, 20 * INTERVAL, '5 pings')
  t.ok(c.client.open, 'alive while it answers')
  answer = false
  const closed = await c.client.closed(20 * INTERVAL)
  t.equal(closed.code, 1006, 'terminated once it stops answering')
})
