/**
 * Backpressure: a subscriber that stops reading is closed with 4008 (and told where to resume) once
 * its queue passes WS_MAX_BUFFERED_BYTES, while a fast subscriber on the same session receives every
 * event the engine emitted and the session keeps answering HTTP.
 */
import t, { type Test } from 'tap'
import {
  bigProcessOps, call, connect, metric, newSession, ok, recordEngine, serverSession, startServer
} from './ws-helpers.js'

/** A list of seqs in short: how many, the first, the last, and whether they run without a hole. */
const span = (seqs: number[]): { count: number, first?: number, last?: number, contiguous: boolean } => ({
  count: seqs.length, first: seqs[0], last: seqs[seqs.length - 1], contiguous: seqs.every((x, i) => i === 0 || x === seqs[i - 1] + 1)
})

/** Two seq lists are the same: compared in short (so a failure prints a small diff), then element by element. */
function sameSeqs (t: Test, found: number[], wanted: number[], msg: string): void {
  t.same(span(found), span(wanted), msg)
  const i = found.findIndex((x, k) => x !== wanted[k])
  t.equal(i, -1, `${msg}: element by element${i >= 0 ? ` (first difference at index ${i}: ${found[i]} vs ${wanted[i]})` : ''}`)
}

const PAGES = 1024
const CAP = 1 << 20

t.test('a paused subscriber is closed with 4008; a fast one on the same session gets every event', async (t) => {
  const srv = await startServer(t, { WS_MAX_BUFFERED_BYTES: String(CAP), MAX_BATCH_OPS: '5000', EVENT_HISTORY: '1000000' })
  const s = await newSession(srv, '6.18')
  await ok(srv, s, 'POST', '/ops', { ops: bigProcessOps('P', PAGES) })
  const hub = serverSession(srv, s).events

  const slow = await connect(t, srv, s)
  const fast = await connect(t, srv, s)
  const engine = recordEngine(t, srv, s)
  const start = slow.hello.seq
  t.equal(fast.hello.seq, start, 'both start at the same seq')
  slow.client.ws.pause()
  t.ok(slow.client.ws.isPaused, 'the slow client stopped reading')

  // fork and exit a 1024-page process until the server gives up on the slow one
  let cycles = 0
  const deadline = Date.now() + 60_000
  while (hub.stats.dropped === 0) {
    if (Date.now() > deadline || cycles >= 200) break
    const f = await ok(srv, s, 'POST', '/processes/1/fork', {})
    await fast.client.waitSeq(engine.events[engine.events.length - 1].seq, 10_000)
    await ok(srv, s, 'POST', `/processes/${String(f.body.pid)}/exit`)
    await fast.client.waitSeq(engine.events[engine.events.length - 1].seq, 10_000)
    cycles++
  }
  t.equal(hub.stats.dropped, 1, `the slow subscriber was dropped (after ${cycles} fork/exit cycles, ${engine.events.length} events)`)
  t.equal(hub.subscribers.size, 1, 'only the fast subscriber is left on the hub')
  t.ok(fast.client.open, 'the fast subscriber is still open')
  t.equal(await metric(srv, 'rmap_ws_dropped_total{reason="backpressure"}'), 1, '/metrics counts the drop')

  // the session still answers, and still streams to the fast subscriber
  const info = await call(srv, s, 'GET', '')
  t.equal(info.status, 200, 'the session still answers HTTP')
  await ok(srv, s, 'POST', '/processes/1/access', { addr: '0x10000000', op: 'read' })
  await fast.client.waitSeq(engine.events[engine.events.length - 1].seq)
  sameSeqs(t, fast.client.events().map((e) => e.seq), engine.seqs(), 'the fast subscriber got every event the engine emitted, in order')
  t.equal(fast.client.events().length, engine.events.length, `${engine.events.length} events, none lost`)

  // the slow one reads again: what was queued, then the close frame
  slow.client.ws.resume()
  const closed = await slow.client.closed(30_000)
  t.equal(closed.code, 4008, 'closed with 4008')
  t.match(closed.reason, /since=\d+/, 'the reason says where to resume')
  const since = Number(/since=(\d+)/.exec(closed.reason)?.[1])
  const got = slow.client.events().map((e) => e.seq)
  t.ok(got.length > 0, `the slow subscriber received ${got.length} events before the close`)
  sameSeqs(t, got, engine.seqs().slice(0, got.length), 'what it received is a prefix of the stream, in order')
  t.equal(since, got[got.length - 1], 'since= names the last event it received')

  // resuming from there (in as many steps as the cap allows) gives the rest, each event once
  const seen = [...got]
  let from = since
  for (let round = 0; round < 50 && from < engine.events[engine.events.length - 1].seq; round++) {
    const r = await connect(t, srv, s, `since=${from}`)
    const last = engine.events[engine.events.length - 1].seq
    await r.client.waitSeqOrClose(last, 30_000)
    t.equal(r.client.controls().some((c) => c.type === 'gap'), false, 'no gap: the history still holds it')
    const evs = r.client.events().map((e) => e.seq)
    seen.push(...evs)
    from = evs.length > 0 ? evs[evs.length - 1] : from
    r.client.terminate()
  }
  sameSeqs(t, seen, engine.seqs(), 'the dropped stream and its resumptions add up to every event exactly once')
})

t.test('a small cap: a subscriber that reads at once is not dropped because one message is bigger than the cap', async (t) => {
  // 16 KiB: well above any single event, below one message of a few hundred events (about 140 KB).
  const srv = await startServer(t, { WS_MAX_BUFFERED_BYTES: '16384', MAX_BATCH_OPS: '5000' })
  const s = await newSession(srv, '6.18')
  await ok(srv, s, 'POST', '/ops', { ops: bigProcessOps('P', 200) })
  const fast = await connect(t, srv, s)
  const engine = recordEngine(t, srv, s)
  await ok(srv, s, 'POST', '/processes/1/fork', {})
  const last = engine.events[engine.events.length - 1].seq
  t.ok(engine.events.length > 400 && engine.events.length < 512, `one operation, ${engine.events.length} events: a single message`)
  await fast.client.waitSeqOrClose(last)
  t.equal(fast.client.closeInfo, null, `the socket stays open (its queue was empty; closed with ${JSON.stringify(fast.client.closeInfo)})`)
  t.same(span(fast.client.events().map((e) => e.seq)), span(engine.seqs()), 'and it receives the operation')

  // Whatever the server decided, resuming must make progress: ?since= from before the fork.
  const r = await connect(t, srv, s, `since=${fast.hello.seq as number}`)
  await r.client.waitSeqOrClose(last)
  t.same(span(r.client.events().map((e) => e.seq)), span(engine.seqs()), `resuming with since=${fast.hello.seq as number} delivers the operation (closed with ${JSON.stringify(r.client.closeInfo)})`)
})

t.test('a small cap: after a drop, every resume makes progress until nothing is lost or repeated', async (t) => {
  const srv = await startServer(t, { WS_MAX_BUFFERED_BYTES: '16384', MAX_BATCH_OPS: '5000', EVENT_HISTORY: '1000000' })
  const s = await newSession(srv, '6.18')
  await ok(srv, s, 'POST', '/ops', { ops: bigProcessOps('P', 1500) })
  const hub = serverSession(srv, s).events
  const first = await connect(t, srv, s)
  const engine = recordEngine(t, srv, s)
  first.client.ws.pause()
  for (let cycle = 0; cycle < 100 && hub.stats.dropped === 0; cycle++) {
    const f = await ok(srv, s, 'POST', '/processes/1/fork', {})
    await ok(srv, s, 'POST', `/processes/${String(f.body.pid)}/exit`)
  }
  t.equal(hub.stats.dropped, 1, `the paused client was dropped (${engine.events.length} events so far)`)
  first.client.ws.resume()
  const last = engine.events[engine.events.length - 1].seq
  const seen: number[] = []
  let client = first.client
  let from = first.hello.seq as number
  let rounds = 0
  for (; rounds < 200; rounds++) {
    await client.waitSeqOrClose(last, 30_000)
    const got = client.events().map((e) => e.seq)
    seen.push(...got)
    if (client.closeInfo !== null) {
      if (client.closeInfo.code !== 4008) { t.fail(`round ${rounds}: closed with ${client.closeInfo.code}`); break }
      const since = Number(/since=(\d+)/.exec(client.closeInfo.reason)?.[1])
      if (since !== (got.length > 0 ? got[got.length - 1] : from)) { t.fail(`round ${rounds}: since=${since} but the last event received is ${got[got.length - 1] ?? from}`); break }
      if (!(since > from)) { t.fail(`round ${rounds}: no progress, since=${since} again`); break }
      from = since
    } else {
      from = got.length > 0 ? got[got.length - 1] : from
    }
    if (from >= last) break
    client.terminate()
    client = (await connect(t, srv, s, `since=${from}`)).client
  }
  t.ok(rounds >= 1, `${rounds} resume(s)`)
  sameSeqs(t, seen, engine.seqs(), 'the dropped stream and its resumptions: every event exactly once, in order')
})
