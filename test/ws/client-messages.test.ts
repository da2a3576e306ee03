/**
 * What a client may send on the event socket: {"type":"ping"} and {"type":"subscribe"}. Anything else
 * is answered with a validation error on the socket, which stays open (until too many of them).
 */
import t from 'tap'
import { connect, newSession, ok, startServer, type Control } from './ws-helpers.js'

t.test('malformed messages get {type:"error", error:{code:"validation"}} and the socket stays open', async (t) => {
  const srv = await startServer(t)
  const s = await newSession(srv, '6.18')
  const { client } = await connect(t, srv, s, 'types=process')
  const bad: Array<[string, () => void]> = [
    ['not JSON', () => { client.ws.send('hello there') }],
    ['truncated JSON', () => { client.ws.send('{"type":"ping"') }],
    ['binary', () => { client.ws.send(Buffer.from(JSON.stringify({ type: 'ping' })), { binary: true }) }],
    ['a JSON number', () => { client.ws.send('42') }],
    ['JSON null', () => { client.ws.send('null') }],
    ['a JSON array', () => { client.ws.send('[{"type":"ping"}]') }],
    ['no type', () => { client.sendJson({ filter: {} }) }],
    ['unknown type', () => { client.sendJson({ type: 'unsubscribe' }) }],
    ['ping with extra keys', () => { client.sendJson({ type: 'ping', x: 1 }) }],
    ['subscribe without filter', () => { client.sendJson({ type: 'subscribe' }) }],
    ['filter: unknown key', () => { client.sendJson({ type: 'subscribe', filter: { pid: [1] } }) }],
    ['filter: pid 0', () => { client.sendJson({ type: 'subscribe', filter: { pids: [0] } }) }],
    ['filter: pids not a list', () => { client.sendJson({ type: 'subscribe', filter: { pids: 1 } }) }],
    ['filter: pfn as a string', () => { client.sendJson({ type: 'subscribe', filter: { pfns: ['4096'] } }) }],
    ['filter: bad address', () => { client.sendJson({ type: 'subscribe', filter: { from: 'zz' } }) }],
    ['filter: negative address', () => { client.sendJson({ type: 'subscribe', filter: { to: -1 } }) }],
    ['filter: bad type', () => { client.sendJson({ type: 'subscribe', filter: { types: ['PTE'] } }) }],
    ['filter: type with two dots', () => { client.sendJson({ type: 'subscribe', filter: { types: ['pte.set.x'] } }) }]
  ]
  for (const [what, send] of bad) {
    client.skip()
    send()
    const m = await client.next(2000, `the answer to ${what}`) as Control
    t.equal(m.type, 'error', `${what}: an error message`)
    t.equal(m.error?.code, 'validation', `${what}: code validation`)
    t.type(m.error?.message, 'string', `${what}: with a message`)
    t.ok(client.open, `${what}: the socket stays open`)
  }
  const msgs = client.controls().filter((m) => m.type === 'error').map((m) => String(m.error.message))
  t.match(msgs[0], /JSON/, 'the not-JSON error says so')
  t.match(msgs[2], /binary/, 'the binary error says so')

  // the bad subscribes changed nothing: still types=process, and the socket works
  t.match(await client.settle(), { type: 'pong' }, 'ping still answered')
  await ok(srv, s, 'POST', '/processes', {})
  await ok(srv, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 1 })
  await ok(srv, s, 'POST', '/processes/1/fork', {})
  await client.settle()
  t.same(client.events().map((e) => e.type), ['process.spawned', 'process.forked'], 'the filter of the connection still holds')
  t.equal(client.closeInfo, null)
})

t.test('too many malformed messages close the socket with 1008', async (t) => {
  const srv = await startServer(t)
  const s = await newSession(srv, '6.18')
  const { client } = await connect(t, srv, s)
  for (let i = 0; i < 150; i++) client.ws.send('not json')
  const closed = await client.closed(5000)
  t.equal(closed.code, 1008, 'closed with 1008')
  t.match(closed.reason, /malformed/)
  const errors = client.controls().filter((m) => m.type === 'error').length
  t.ok(errors > 100 && errors <= 101, `${errors} error answers before the close`)
  const other = await connect(t, srv, s)
  t.ok(other.client.open, 'a new socket is fine')
})

t.test('a message over WS_MAX_MESSAGE_BYTES closes the socket (1009)', async (t) => {
  const srv = await startServer(t, { WS_MAX_MESSAGE_BYTES: '1024' })
  const s = await newSession(srv, '6.18')
  const { client } = await connect(t, srv, s)
  client.sendJson({ type: 'subscribe', filter: { pids: Array.from({ length: 500 }, (_x, i) => i + 1) } })
  const closed = await client.closed(5000)
  t.equal(closed.code, 1009, 'message too big')
  const r = await ok(srv, s, 'GET', '')
  t.equal(r.status, 200, 'the session is unaffected')
})
