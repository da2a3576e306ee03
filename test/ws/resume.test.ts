/**
 * Resume with ?since=<seq>: the history after seq is replayed exactly once, then live events follow;
 * when the bounded history (EVENT_HISTORY) no longer reaches back, a gap notice comes first.
 */
import t from 'tap'
import { connect, newSession, ok, recordEngine, startServer, type HttpSession, type Server } from './ws-helpers.js'

/** About 40 events of every kind. */
async function workload (srv: Server, s: HttpSession): Promise<void> {
  await ok(srv, s, 'POST', '/processes', { name: 'P' })
  await ok(srv, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 6 })
  for (let i = 0; i < 6; i++) await ok(srv, s, 'POST', '/processes/1/access', { addr: '0x' + (0x10000000 + i * 4096).toString(16), op: 'write' })
  await ok(srv, s, 'POST', '/processes/1/fork', {})
  await ok(srv, s, 'POST', '/processes/2/access', { addr: '0x10000000', op: 'write' })
  await ok(srv, s, 'POST', '/processes/2/exit')
}

t.test('?since=<seq> replays exactly the events after seq, then the live ones, each once', async (t) => {
  const srv = await startServer(t)
  const s = await newSession(srv, '6.18')
  const engine = recordEngine(t, srv, s)
  await workload(srv, s)
  const wire = engine.wire()
  const seq = wire[wire.length - 1].seq
  t.ok(seq > 30, `${seq} events in the history`)
  for (const since of [0, 1, 7, Math.floor(seq / 2), seq - 1, seq]) {
    const { client, hello } = await connect(t, srv, s, `since=${since}`)
    t.equal(hello.seq, seq, `since=${since}: hello gives the current seq`)
    t.same(hello.history, { oldest: 1, size: 4096 }, 'the whole history is kept')
    const want = wire.filter((e) => e.seq > since)
    await client.settle()
    t.same(client.events(), want, `since=${since}: events ${since + 1}..${seq}`)
    t.notOk(client.controls().some((c) => c.type === 'gap'), 'no gap')
    client.terminate()
  }

  // replay, then live, with a filter applied to both
  const { client } = await connect(t, srv, s, 'since=5&types=pte.set')
  await ok(srv, s, 'POST', '/processes/1/access', { addr: '0x10000000', op: 'read' })
  await ok(srv, s, 'POST', '/processes', {})
  await ok(srv, s, 'POST', '/processes/3/mmap', { addr: '0x50000000', pages: 1 })
  await ok(srv, s, 'POST', '/processes/3/access', { addr: '0x50000000', op: 'write' })
  const all = engine.wire()
  await client.waitSeq(all[all.length - 1].seq)
  t.same(client.events(), all.filter((e) => e.seq > 5 && e.type === 'pte.set'), 'the filter applies to the replay and to what follows; nothing twice')
})

t.test('with a small EVENT_HISTORY the first message after hello is a gap, then the replay from the oldest kept event', async (t) => {
  const srv = await startServer(t, { EVENT_HISTORY: '8' })
  const s = await newSession(srv, '6.18')
  const engine = recordEngine(t, srv, s)
  await workload(srv, s)
  const wire = engine.wire()
  const seq = wire[wire.length - 1].seq
  const oldest = seq - 7

  for (const since of [0, 3, oldest - 2]) {
    const { client, hello } = await connect(t, srv, s, `since=${since}`)
    t.same(hello.history, { oldest, size: 8 }, 'hello: the history holds the last 8 events')
    const gap = await client.next(5000, 'gap')
    t.match(gap, { type: 'gap', from: since + 1, to: oldest - 1, message: String }, `since=${since}: gap ${since + 1}..${oldest - 1}`)
    await client.settle()
    t.same(client.events(), wire.filter((e) => e.seq >= oldest), 'then every kept event, from the oldest')
    t.same(client.controls().map((c) => c.type), ['hello', 'gap', 'pong'], 'one gap notice')
    client.terminate()
  }

  // since = oldest - 1: the history reaches back exactly, no gap
  const { client } = await connect(t, srv, s, `since=${oldest - 1}`)
  await client.waitSeq(seq)
  t.same(client.events(), wire.filter((e) => e.seq >= oldest))
  await client.settle()
  t.same(client.controls().map((c) => c.type), ['hello', 'pong'], 'no gap when nothing is missing')

  // a gap with a filter: the notice still comes, the replay is filtered
  const f = await connect(t, srv, s, 'since=0&types=pte')
  t.match(await f.client.next(5000, 'gap'), { type: 'gap', from: 1, to: oldest - 1 })
  await f.client.settle()
  t.same(f.client.events(), wire.filter((e) => e.seq >= oldest && e.type.startsWith('pte.')))
})

t.test('EVENT_HISTORY=0: nothing to replay, the gap covers everything missed', async (t) => {
  const srv = await startServer(t, { EVENT_HISTORY: '0' })
  const s = await newSession(srv, '6.18')
  const engine = recordEngine(t, srv, s)
  await workload(srv, s)
  const seq = engine.events[engine.events.length - 1].seq
  const { client, hello } = await connect(t, srv, s, 'since=4')
  t.same(hello.history, { oldest: seq + 1, size: 0 })
  t.match(await client.next(5000, 'gap'), { type: 'gap', from: 5, to: seq })
  await ok(srv, s, 'POST', '/processes', {})
  await client.waitSeq(seq + 2)
  await client.settle()
  t.same(client.events().map((e) => e.seq), [seq + 1, seq + 2], 'only the live events follow')
})

t.test('?since= ahead of the stream is reported and the stream starts from now', async (t) => {
  const srv = await startServer(t)
  const s = await newSession(srv, '6.18')
  await workload(srv, s)
  const { client, hello } = await connect(t, srv, s, 'since=100000')
  const notice = await client.next(5000, 'the notice')
  t.match(notice, { type: 'error', error: { code: 'validation', message: /ahead of the latest event/ } })
  await ok(srv, s, 'POST', '/processes/1/mmap', { addr: '0x20000000', pages: 1 })
  const next = await client.next(5000, 'the next event')
  const first = Array.isArray(next) ? next[0] : next
  t.equal(first.seq, (hello.seq as number) + 1, 'the next event is the first after hello, none skipped')
})
