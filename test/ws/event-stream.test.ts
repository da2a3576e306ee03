/**
 * The event stream over a real WebSocket: the content and order of the events of fork, a COW write
 * fault, mremap and try_to_unmap, compared with what the engine emitted; one message per operation
 * (an object for one event, an array for several); operations arriving in the order they were made.
 */
import t from 'tap'
import {
  addrOf, call, connect, isEventObject, newSession, ok, recordEngine, startServer,
  type Message, type WireEvent
} from './ws-helpers.js'

const indexOf = (events: WireEvent[], pred: (e: WireEvent) => boolean, what: string): number => {
  const i = events.findIndex(pred)
  if (i < 0) throw new Error(`no event: ${what}`)
  return i
}

/** The events of one message (an object or an array). */
const eventsOf = (m: Message): WireEvent[] => Array.isArray(m) ? m : isEventObject(m) ? [m] : []

t.test('fork, COW fault, mremap and unmap: each event, its cause and its order, as the engine emitted them', async (t) => {
  const srv = await startServer(t)
  const s = await newSession(srv, '6.18')
  const { client, hello } = await connect(t, srv, s)
  const engine = recordEngine(t, srv, s)
  t.equal(hello.session, s.id)
  t.equal(hello.kernel, '6.18')
  t.equal(hello.seq, 0, 'a new session has emitted nothing')
  t.same(hello.history, { oldest: 1, size: 4096 }, 'an empty history of the default size')
  t.same(hello.filter, {}, 'no filter')

  /** Does one operation and returns the event message it produced (the next message on the socket). */
  const op = async (method: 'POST' | 'DELETE', path: string, body?: unknown, headers?: Record<string, string>): Promise<{ reply: any, requestId: string, message: Message, events: WireEvent[] }> => {
    const r = await ok(srv, s, method, path, body, headers)
    const message = await client.next(5000, `the events of ${path}`)
    return { reply: r.body, requestId: r.requestId, message, events: eventsOf(message) }
  }

  const spawn = await op('POST', '/processes', { name: 'P' })
  t.ok(Array.isArray(spawn.message), 'spawn made two events (pgd frame, process.spawned): one array message')
  t.same(spawn.events.map((e) => e.type), ['frame.allocated', 'process.spawned'])

  const mmap = await op('POST', '/processes/1/mmap', { addr: '0x10000000', pages: 4 })
  t.notOk(Array.isArray(mmap.message), 'mmap made one event: a plain object message')
  t.match(mmap.message, { type: 'vma.created', pid: 1, vma: { start: '0x10000000', end: '0x10004000' }, cause: { op: 'mmap', pid: 1, requestId: mmap.requestId } })

  const w0 = await op('POST', '/processes/1/access', { addr: '0x10000000', op: 'write' })
  const w1 = await op('POST', '/processes/1/access', { addr: '0x10001000', op: 'write' })
  const pfn0: number = w0.reply.pfn
  const pfn1: number = w1.reply.pfn
  t.equal(w1.reply.path, 'anon_alloc')
  for (const e of w1.events) t.match(e.cause, { op: 'access', path: 'anon_alloc', pid: 1, requestId: w1.requestId })
  const set1 = w1.events.find((e) => e.type === 'pte.set')
  t.match(set1, { pid: 1, addr: '0x10001000', before: { kind: 'none' }, after: { kind: 'present', pfn: pfn1, writable: true, dirty: true } })
  t.equal(w1.events.findIndex((e) => e.type === 'frame.allocated' && e.pfn === pfn1) < w1.events.indexOf(set1 as WireEvent), true, 'the page is allocated before it is mapped')

  // fork, with the client's own request id
  const beforeFork = engine.events.length
  const fork = await op('POST', '/processes/1/fork', { name: 'C' }, { 'x-request-id': 'fork-req-1' })
  t.equal(fork.requestId, 'fork-req-1', 'the reply echoes the request id')
  t.ok(Array.isArray(fork.message), 'fork: one array message')
  t.same(fork.events, engine.wire().slice(beforeFork), 'exactly the events the engine emitted for the fork, in its order')
  for (const e of fork.events) t.same(e.cause, { op: 'fork', pid: 1, requestId: 'fork-req-1' }, `cause of ${e.type} #${e.seq}`)
  const ev = fork.events
  const forked = indexOf(ev, (e) => e.type === 'process.forked', 'process.forked')
  t.match(ev[forked], { pid: 1, parent: 1, child: 2 })
  const created = indexOf(ev, (e) => e.type === 'vma.created' && e.pid === 2, "the child's vma.created")
  t.match(ev[created], { vma: { start: '0x10000000', end: '0x10004000' } })
  for (const [addr, pfn] of [['0x10000000', pfn0], ['0x10001000', pfn1]] as const) {
    const wp = indexOf(ev, (e) => e.type === 'pte.changed' && e.pid === 1 && e.addr === addr, `parent write-protect at ${addr}`)
    const set = indexOf(ev, (e) => e.type === 'pte.set' && e.pid === 2 && e.addr === addr, `child pte.set at ${addr}`)
    t.ok(forked < created && created < wp && wp < set, `${addr}: process.forked, vma.created, parent write-protect, then child pte.set`)
    t.equal(set, wp + 1, `${addr}: the child's PTE right after the parent's`)
    t.match(ev[wp], { before: { kind: 'present', pfn, writable: true }, after: { kind: 'present', pfn, writable: false, dirty: true } })
    t.match(ev[set], { before: { kind: 'none' }, after: { kind: 'present', pfn, writable: false, accessed: false } })
  }
  t.equal(ev.filter((e) => e.type.startsWith('pte.')).length, 4, 'two pages: two write-protects, two child PTEs')

  // COW write fault in the child
  const cow = await op('POST', '/processes/2/access', { addr: '0x10000000', op: 'write' })
  t.equal(cow.reply.path, 'cow_copy')
  t.equal(cow.reply.copiedFrom, pfn0)
  const newPfn: number = cow.reply.pfn
  t.not(newPfn, pfn0)
  for (const e of cow.events) t.match(e.cause, { op: 'access', path: 'cow_copy', pid: 2, requestId: cow.requestId })
  const alloc = indexOf(cow.events, (e) => e.type === 'frame.allocated' && e.pfn === newPfn, 'frame.allocated of the copy')
  const changed = indexOf(cow.events, (e) => e.type === 'pte.changed', 'pte.changed of the COW')
  t.ok(alloc < changed, 'the copy is allocated before the PTE points to it')
  t.match(cow.events[changed], { pid: 2, addr: '0x10000000', before: { kind: 'present', pfn: pfn0, writable: false }, after: { kind: 'present', pfn: newPfn, writable: true, dirty: true } })

  // mremap the parent's mapping somewhere else
  const mremap = await op('POST', '/processes/1/mremap', { addr: '0x10000000', pages: 4, newPages: 4, newAddr: '0x20000000' })
  t.equal(mremap.reply.addr, '0x20000000')
  for (const e of mremap.events) t.match(e.cause, { op: 'mremap', pid: 1, requestId: mremap.requestId })
  const moved = indexOf(mremap.events, (e) => e.type === 'vma.moved', 'vma.moved')
  t.match(mremap.events[moved], { pid: 1, vma: { start: '0x20000000', end: '0x20004000' }, other: { start: '0x10000000', end: '0x10004000' } })
  for (const [from, to, pfn] of [['0x10000000', '0x20000000', pfn0], ['0x10001000', '0x20001000', pfn1]] as const) {
    const cleared = indexOf(mremap.events, (e) => e.type === 'pte.cleared' && e.addr === from, `pte.cleared at ${from}`)
    const set = indexOf(mremap.events, (e) => e.type === 'pte.set' && e.addr === to, `pte.set at ${to}`)
    t.ok(cleared < set, `${from} -> ${to}: cleared at the old address, then set at the new`)
    t.match(mremap.events[cleared], { pid: 1, before: { kind: 'present', pfn }, after: { kind: 'none' } })
    t.match(mremap.events[set], { pid: 1, before: { kind: 'none' }, after: { kind: 'present', pfn } })
    t.equal(mremap.events[set].after?.raw, mremap.events[cleared].before?.raw, 'the same PTE value moves')
  }

  // try_to_unmap of the page both processes still map
  const unmap = await op('POST', `/frames/${pfn1}/unmap`)
  t.equal(unmap.reply.success, true)
  t.equal(unmap.reply.unmapped, 2)
  const ptes = unmap.events.filter((e) => e.type.startsWith('pte.'))
  t.equal(ptes.length, 2, 'one PTE event per mapping')
  t.same(ptes.map((e) => `${e.pid ?? '?'}@${e.addr ?? '?'}`).sort(), ['1@0x20001000', '2@0x10001000'])
  for (const e of ptes) {
    t.equal(e.type, 'pte.changed')
    t.match(e, { before: { kind: 'present', pfn: pfn1 }, after: { kind: 'swap', swapOffset: unmap.reply.swapSlot } })
    t.match(e.cause, { op: 'try_to_unmap', requestId: unmap.requestId })
  }

  // everything, compared with the engine
  const all = client.events()
  t.same(all, engine.wire(), 'the socket carried exactly what the engine emitted, in order')
  t.same(all.map((e) => e.seq), all.map((_e, i) => i + 1), 'seq runs 1, 2, 3, ... with no hole and no repeat')
  t.same(client.controls().map((c) => c.type), ['hello'], 'no control message besides hello')
})

t.test('consecutive HTTP operations: one message each, in operation order; a batch (POST /ops) is one operation', async (t) => {
  const srv = await startServer(t)
  const s = await newSession(srv, '2.6.11')
  const { client } = await connect(t, srv, s)
  const engine = recordEngine(t, srv, s)
  const ids: string[] = []
  const steps: Array<[string, unknown]> = [
    ['/processes', { name: 'A' }],
    ['/processes/1/mmap', { addr: '0x40000000', pages: 8 }],
    ['/processes/1/access', { addr: '0x40000000', op: 'read' }],
    ['/processes/1/access', { addr: '0x40001000', op: 'write' }],
    ['/processes/1/mprotect', { addr: '0x40000000', pages: 2, prot: 'r' }],
    ['/processes/1/fork', {}],
    ['/processes/2/access', { addr: '0x40002000', op: 'write' }],
    ['/processes/1/munmap', { addr: '0x40001000', pages: 1 }],
    ['/ops', { ops: [{ op: 'write', pid: 2, addr: '0x40003000' }, { op: 'exit', pid: 2 }] }],
    ['/processes/1/exit', undefined]
  ]
  for (let i = 0; i < steps.length; i++) {
    const r = await call(srv, s, 'POST', steps[i][0], steps[i][1], { 'x-request-id': `step-${i}` })
    t.equal(r.status < 300, true, `${steps[i][0]}: ${r.status}`)
    ids.push(r.requestId)
  }
  t.same(ids, steps.map((_s, i) => `step-${i}`))
  await client.waitSeq(engine.events[engine.events.length - 1].seq)
  const msgs = client.messages.slice(1)
  t.equal(msgs.length, steps.length, 'one message per operation')
  for (let i = 0; i < msgs.length; i++) {
    const evs = eventsOf(msgs[i])
    t.ok(evs.length > 0, `message ${i} holds events`)
    t.equal(Array.isArray(msgs[i]), evs.length > 1, `message ${i}: an array exactly when the operation made several events`)
    t.same([...new Set(evs.map((e) => e.cause.requestId))], [`step-${i}`], `message ${i} holds the events of operation ${i}`)
  }
  const batch = eventsOf(msgs[8])
  t.same([...new Set(batch.map((e) => e.cause.op))], ['access', 'exit'], 'a batch: each event names its own op')
  const all = client.events()
  t.same(all, engine.wire(), 'everything the engine emitted, in order')
  for (let i = 1; i < all.length; i++) if (all[i].seq !== all[i - 1].seq + 1) t.fail(`seq ${all[i - 1].seq} is followed by ${all[i].seq}`)
})

t.test('an operation with more events than fit one message: several array messages, back to back, nothing lost', async (t) => {
  const srv = await startServer(t, { MAX_BATCH_OPS: '5000' })
  const s = await newSession(srv, '6.18')
  const ops: Array<Record<string, unknown>> = [{ op: 'spawn', proc: 'P' }, { op: 'mmap', proc: 'P', addr: '0x10000000', pages: 700 }]
  for (let i = 0; i < 700; i++) ops.push({ op: 'write', proc: 'P', addr: '0x' + (0x10000000 + i * 4096).toString(16) })
  await ok(srv, s, 'POST', '/ops', { ops })
  const { client, hello } = await connect(t, srv, s)
  const engine = recordEngine(t, srv, s)
  const r = await ok(srv, s, 'POST', '/processes/1/fork', {})
  const last = engine.events[engine.events.length - 1].seq
  t.ok(last - hello.seq > 1400, 'the fork made well over a thousand events')
  await client.waitSeq(last)
  const msgs = client.messages.slice(1)
  t.ok(msgs.length > 1, `split into ${msgs.length} messages`)
  for (const m of msgs) {
    t.ok(Array.isArray(m), 'each part is an array')
    t.ok(eventsOf(m).length <= 512, 'of at most 512 events')
  }
  t.same(client.events(), engine.wire(), 'the parts together are the whole fork, in order')
  t.ok(client.events().every((e) => e.cause.requestId === r.requestId), 'every part carries the request id of the fork')
  t.equal(client.events().filter((e) => e.type === 'pte.set' && e.pid === 2 && addrOf(e.addr ?? '0x0') >= 0x10000000).length, 700, "the child's 700 PTEs are all there")
})

t.test('a failed operation emits nothing: a SIGSEGV access, a refused mmap, an atomic batch that fails midway', async (t) => {
  const srv = await startServer(t)
  const s = await newSession(srv, '6.18')
  await ok(srv, s, 'POST', '/processes', { name: 'P' })
  await ok(srv, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 2 })
  const { client, hello } = await connect(t, srv, s)
  const engine = recordEngine(t, srv, s)
  const segv = await call(srv, s, 'POST', '/processes/1/access', { addr: '0x20000000', op: 'write' })
  t.equal(segv.status, 422)
  const overlap = await call(srv, s, 'POST', '/processes/1/mmap', { addr: '0x10001000', pages: 2 })
  t.equal(overlap.status >= 400, true, `overlapping MAP_FIXED_NOREPLACE refused (${overlap.status})`)
  const batch = await call(srv, s, 'POST', '/ops', {
    ops: [{ op: 'write', pid: 1, addr: '0x10000000' }, { op: 'fork', pid: 1 }, { op: 'write', pid: 1, addr: '0x30000000' }]
  })
  t.equal(batch.status, 422)
  t.equal(batch.body?.error?.code, 'batch_failed')
  const pong = await client.settle()
  t.equal(pong.seq, hello.seq, 'the seq did not move')
  t.same(client.events(), [], 'no event reached the socket')
  t.equal(engine.events.length, 0, 'the engine emitted nothing')

  // mode "continue": the events of the ops that worked, and only those
  const cont = await ok(srv, s, 'POST', '/ops', {
    mode: 'continue', ops: [{ op: 'write', pid: 1, addr: '0x10000000' }, { op: 'write', pid: 1, addr: '0x30000000' }, { op: 'read', pid: 1, addr: '0x10001000' }]
  })
  t.equal(cont.body.failed, 1)
  await client.settle()
  t.same(client.events(), engine.wire(), 'continue mode: what the engine emitted')
  t.same([...new Set(client.events().map((e) => e.cause.path))].sort(), ['anon_alloc', 'zero_page'], 'the write and the read that worked')
})

t.test('the request id in the events is the one the reply carries, also when the client sent an unusable one', async (t) => {
  const srv = await startServer(t)
  const s = await newSession(srv, '6.18')
  const { client } = await connect(t, srv, s)
  const r = await ok(srv, s, 'POST', '/processes', {}, { 'x-request-id': 'not a valid id!' })
  t.not(r.requestId, 'not a valid id!', 'the server made its own id')
  t.match(r.requestId, /^[0-9a-f-]{36}$/)
  const m = await client.next(5000, 'spawn events')
  for (const e of eventsOf(m)) t.equal(e.cause.requestId, r.requestId)
})

t.test("one session's events never reach another session's sockets", async (t) => {
  const srv = await startServer(t)
  const a = await newSession(srv, '6.18')
  const b = await newSession(srv, '6.18')
  const ca = await connect(t, srv, a)
  const cb = await connect(t, srv, b)
  await ok(srv, a, 'POST', '/processes', {})
  await ok(srv, a, 'POST', '/processes/1/fork', {})
  await ok(srv, b, 'POST', '/processes', {})
  await ca.client.settle()
  await cb.client.settle()
  t.same(ca.client.events().map((e) => e.type), ['frame.allocated', 'process.spawned', 'frame.allocated', 'process.forked'])
  t.same(cb.client.events().map((e) => e.type), ['frame.allocated', 'process.spawned'])
  t.same(cb.client.events().map((e) => e.seq), [1, 2], 'each session numbers its own events')
})
