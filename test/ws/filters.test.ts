/**
 * Filters of the event stream: pid, pfn, from/to, types (exact and prefixes) at connect time, and a
 * later {"type":"subscribe"} replacing the filter. Each filtered socket is compared with an unfiltered
 * one on the same session, filtered here by an independent predicate.
 */
import t from 'tap'
import {
  addrOf, connect, eventsUrl, newSession, ok, recordEngine, refused, startServer,
  type Client, type HttpSession, type Server, type WireEvent
} from './ws-helpers.js'

/** A workload touching two processes, several frames, several addresses, every kind of event. */
async function workload (srv: Server, s: HttpSession): Promise<{ pfns: number[] }> {
  await ok(srv, s, 'POST', '/processes', { name: 'P' })
  await ok(srv, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 4 })
  await ok(srv, s, 'POST', '/processes/1/mmap', { addr: '0x30000000', pages: 2 })
  const pfns: number[] = []
  for (const a of ['0x10000000', '0x10001000', '0x10002000', '0x30000000']) {
    pfns.push((await ok(srv, s, 'POST', '/processes/1/access', { addr: a, op: 'write' })).body.pfn)
  }
  await ok(srv, s, 'POST', '/processes/1/fork', { name: 'C' })
  await ok(srv, s, 'POST', '/processes/2/access', { addr: '0x10001000', op: 'write' })
  await ok(srv, s, 'POST', '/processes/2/munmap', { addr: '0x10002000', pages: 1 })
  await ok(srv, s, 'POST', '/processes/1/mprotect', { addr: '0x10000000', pages: 1, prot: 'r' })
  await ok(srv, s, 'POST', `/frames/${pfns[1]}/unmap`)
  await ok(srv, s, 'POST', '/processes/2/exit')
  return { pfns }
}

const pidOf = (e: WireEvent): number | undefined => e.pid ?? e.cause.pid
const byPids = (pids: number[]) => (e: WireEvent): boolean => {
  const p = pidOf(e)
  return p !== undefined && (pids.includes(p) || (e.child !== undefined && pids.includes(e.child)))
}
/** A PTE that maps a frame: present, or PROT_NONE (the frame is still there). */
const mapped = (p: WireEvent['before']): boolean => p?.kind === 'present' || p?.kind === 'protnone'
const byPfns = (pfns: number[]) => (e: WireEvent): boolean =>
  (e.pfn !== undefined && pfns.includes(e.pfn)) ||
  (mapped(e.before) && pfns.includes(e.before?.pfn ?? -1)) ||
  (mapped(e.after) && pfns.includes(e.after?.pfn ?? -1))
const byRange = (from: number, to: number) => (e: WireEvent): boolean => {
  if (e.addr !== undefined) return addrOf(e.addr) >= from && addrOf(e.addr) < to
  if (e.vma !== undefined) return addrOf(e.vma.start) < to && addrOf(e.vma.end) > from
  return false
}
const byTypes = (types: string[]) => (e: WireEvent): boolean => types.includes(e.type) || types.includes(e.type.split('.')[0])
const all = (...preds: Array<(e: WireEvent) => boolean>) => (e: WireEvent): boolean => preds.every((p) => p(e))

t.test('filters at connect time: pid, pfn, from/to, types (exact and prefix), and combinations', async (t) => {
  const srv = await startServer(t)
  const s = await newSession(srv, '6.18')
  const full = await connect(t, srv, s)
  const engine = recordEngine(t, srv, s)
  const cases: Array<{ query: string, filter: Record<string, unknown>, pred: (e: WireEvent) => boolean }> = [
    { query: 'pid=2', filter: { pids: [2] }, pred: byPids([2]) },
    { query: 'pid=1,2', filter: { pids: [1, 2] }, pred: byPids([1, 2]) },
    { query: 'from=0x10001000&to=0x10003000', filter: { from: 0x10001000, to: 0x10003000 }, pred: byRange(0x10001000, 0x10003000) },
    { query: 'from=0x30000000', filter: { from: 0x30000000 }, pred: byRange(0x30000000, Number.MAX_SAFE_INTEGER) },
    { query: 'types=pte', filter: { types: ['pte'] }, pred: byTypes(['pte']) },
    { query: 'types=pte.set,vma', filter: { types: ['pte.set', 'vma'] }, pred: byTypes(['pte.set', 'vma']) },
    { query: 'types=process.forked,anon_vma', filter: { types: ['process.forked', 'anon_vma'] }, pred: byTypes(['process.forked', 'anon_vma']) },
    { query: 'types=frame.freed', filter: { types: ['frame.freed'] }, pred: byTypes(['frame.freed']) },
    { query: 'pid=1&types=pte', filter: { pids: [1], types: ['pte'] }, pred: all(byPids([1]), byTypes(['pte'])) }
  ]
  const clients: Client[] = []
  for (const c of cases) {
    const { client, hello } = await connect(t, srv, s, c.query)
    t.same(hello.filter, c.filter, `hello echoes the filter of ?${c.query}`)
    clients.push(client)
  }
  const { pfns } = await workload(srv, s)
  // two more sockets on frames now known
  const pfnClient = await connect(t, srv, s, `pfn=${pfns[2]}`)
  const pfnPair = await connect(t, srv, s, `pfn=${pfns[0]},${pfns[3]}&types=pte`)
  t.same(pfnClient.hello.filter, { pfns: [pfns[2]] })
  const mark = full.client.events().length
  await ok(srv, s, 'POST', '/processes/1/fork', { name: 'D' })
  await ok(srv, s, 'POST', '/processes/3/access', { addr: '0x10000000', op: 'read' })
  await ok(srv, s, 'POST', `/frames/${pfns[0]}/unmap`)
  await ok(srv, s, 'POST', '/processes/1/mprotect', { addr: '0x30000000', pages: 1, prot: 'none' })
  await ok(srv, s, 'POST', '/processes/1/mprotect', { addr: '0x30000000', pages: 1, prot: 'rw' })
  await ok(srv, s, 'POST', '/processes/3/access', { addr: '0x10001000', op: 'write' })
  await ok(srv, s, 'POST', '/processes/3/exit')
  const last = engine.events[engine.events.length - 1].seq
  await full.client.waitSeq(last)
  const everything = full.client.events()
  t.ok(everything.length > 60, `the workload made ${everything.length} events`)

  // A filtered socket may get nothing more: a pong answered after `last` shows nothing is still on its way.
  const settle = async (c: Client): Promise<void> => { t.ok((await c.settle()).seq >= last, 'pong after the workload') }
  for (let i = 0; i < cases.length; i++) {
    await settle(clients[i])
    const want = everything.filter(cases[i].pred)
    t.ok(want.length > 0, `?${cases[i].query} should match some events`)
    t.ok(want.length < everything.length, `?${cases[i].query} should leave some out`)
    t.same(clients[i].events(), want, `?${cases[i].query}: exactly the matching events, in order`)
  }
  const later = everything.slice(mark)
  await settle(pfnClient.client)
  await settle(pfnPair.client)
  const oneWant = later.filter(byPfns([pfns[2]]))
  t.same(oneWant.map((e) => `${e.type} ${e.pid ?? '?'}`), ['pte.set 3', 'pte.cleared 3'], `?pfn=${pfns[2]} matches the fork's PTE copy and the exit's PTE clear`)
  t.same(pfnClient.client.events(), oneWant, `?pfn=${pfns[2]}`)
  const pairWant = later.filter(all(byPfns([pfns[0], pfns[3]]), byTypes(['pte'])))
  t.ok(pairWant.some((e) => e.after?.kind === 'swap'), 'the unmap of a watched frame is seen (its PTE before still maps it)')
  t.ok(pairWant.some((e) => e.after?.kind === 'protnone'), 'PROT_NONE of a watched frame is seen')
  t.same(pfnPair.client.events(), pairWant, `?pfn=${pfns[0]},${pfns[3]}&types=pte`)
})

t.test('a subscribe message replaces the filter, acknowledged with "subscribed"', async (t) => {
  const srv = await startServer(t)
  const s = await newSession(srv, '6.18')
  const full = await connect(t, srv, s)
  const { client } = await connect(t, srv, s, 'types=process')
  await ok(srv, s, 'POST', '/processes', { name: 'P' })
  await ok(srv, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 4 })
  await ok(srv, s, 'POST', '/processes/1/access', { addr: '0x10000000', op: 'write' })
  const first = await client.next(5000, 'process.spawned')
  t.match(first, { type: 'process.spawned', pid: 1 })

  client.sendJson({ type: 'subscribe', filter: { types: ['pte'], pids: [2], from: '0x10001000', to: 0x10004000 } })
  const ack = await client.next(5000, 'subscribed')
  t.match(ack, { type: 'subscribed', filter: { types: ['pte'], pids: [2], from: 0x10001000, to: 0x10004000 } })
  t.equal((ack as { seq: number }).seq, full.client.lastSeq(), 'the ack carries the current seq')
  const mark = full.client.events().length

  await ok(srv, s, 'POST', '/processes/1/access', { addr: '0x10001000', op: 'write' })
  await ok(srv, s, 'POST', '/processes/1/fork', {})
  await ok(srv, s, 'POST', '/processes/2/access', { addr: '0x10000000', op: 'write' })
  await ok(srv, s, 'POST', '/processes/2/access', { addr: '0x10001000', op: 'write' })
  await ok(srv, s, 'POST', '/processes', {})
  await client.settle()
  const want = full.client.events().slice(mark).filter(all(byTypes(['pte']), byPids([2]), byRange(0x10001000, 0x10004000)))
  t.ok(want.length >= 2, 'the new filter matches something')
  t.same(client.events().slice(1), want, 'after the ack: exactly what the new filter matches (no process events any more)')

  // subscribing to {} gets everything again
  client.skip()
  client.sendJson({ type: 'subscribe', filter: {} })
  t.match(await client.next(5000, 'subscribed'), { type: 'subscribed', filter: {} })
  const n = client.events().length
  const mark2 = full.client.events().length
  await ok(srv, s, 'POST', '/processes/3/exit')
  await client.settle()
  await full.client.waitUntil(() => full.client.events().some((e) => e.type === 'process.exited'), 5000, 'process.exited')
  t.same(client.events().slice(n), full.client.events().slice(mark2), 'an empty filter matches everything')
})

t.test('bad filters at connect time are refused before the upgrade with 400', async (t) => {
  const srv = await startServer(t)
  const s = await newSession(srv, '6.18')
  for (const q of ['pid=0', 'pid=abc', 'pfn=-1', 'from=zz', 'types=PTE', 'types=pte.set.x', 'since=-1']) {
    const r = await refused(t, eventsUrl(srv, s.id, q), { headers: { authorization: `Bearer ${s.token}` } })
    t.equal(r.status, 400, `?${q}: 400`)
    t.equal(r.body?.error?.code, 'validation', `?${q}: validation error`)
  }
})
