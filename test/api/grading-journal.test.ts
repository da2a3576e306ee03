import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, createSession, type TestSession } from '../helper.js'
import { HEX, req } from './api-helpers.js'
import { KERNELS, OpGenerator, opsOk, restore, runRandom, snapshotText, stateOf, type BatchReply, type WireOp } from './grading-helpers.js'

/**
 * GET /journal: every successful mutation in the /ops vocabulary, addresses in hex; replaying it
 * through /ops in a new session of the same kernel gives the identical snapshot (and event count);
 * a restored session says fromSnapshot, and its snapshot plus its journal rebuild it.
 */

interface Journal { kernel: string, fromSnapshot: boolean, truncated: boolean, ops: WireOp[] }

async function journalOf (app: FastifyInstance, s: TestSession): Promise<Journal> {
  return await req<Journal>(app, s, 'GET', '/journal')
}

/** Replays ops through /ops (atomic, in chunks of at most 1000). */
async function replay (app: FastifyInstance, s: TestSession, ops: WireOp[]): Promise<number> {
  let failed = 0
  for (let i = 0; i < ops.length; i += 1000) {
    const b = await opsOk(app, s, { mode: 'atomic', ops: ops.slice(i, i + 1000) })
    failed += b.failed
  }
  return failed
}

const ADDRESS_KEYS = ['addr', 'newAddr']

function addressProblems (ops: WireOp[]): string[] {
  const out: string[] = []
  for (const [i, op] of ops.entries()) {
    for (const k of ADDRESS_KEYS) {
      if (k in op && (typeof op[k] !== 'string' || !HEX.test(op[k] as string))) out.push(`op ${i} (${op.op}): ${k} is ${JSON.stringify(op[k])}`)
    }
    if (op.op === 'probe') out.push(`op ${i}: a probe in the journal`)
  }
  return out
}

for (const kernel of KERNELS) {
  t.test(`GET /journal replays to the identical snapshot (${kernel})`, async (t) => {
    const app = await buildTestApp(t)
    for (const seed of [21, 22, 23]) {
      await t.test(`seed ${seed}`, async (t) => {
        const a = await createSession(app, kernel)
        const { replies } = await runRandom(app, a, new OpGenerator(seed), 12, 30)
        const j = await journalOf(app, a)
        t.equal(j.kernel, kernel)
        t.equal(j.fromSnapshot, false)
        t.equal(j.truncated, false)
        t.strictSame(addressProblems(j.ops), [], 'every address in the journal is hex; no probes')

        // The journal is exactly the successful mutations, in order.
        const applied = replies.flatMap((r) => { const b = JSON.parse(r) as BatchReply; return [...b.files, ...b.results] }).filter((r) => r.ok && r.op !== 'probe').map((r) => r.op === 'dontneed' ? 'madvise' : r.op)
        t.strictSame(j.ops.map((o) => o.op), applied, `${j.ops.length} journal ops: the successful mutations, in order`)

        const b = await createSession(app, kernel)
        t.equal(await replay(app, b, j.ops), 0, 'every journal op succeeds on replay')
        const [x, y] = [await stateOf(app, a), await stateOf(app, b)]
        t.equal(y.snapshot, x.snapshot, 'identical snapshot')
        t.equal(y.events, x.events, 'identical event count')
        t.equal(y.journal, x.journal, 'the replay journals the same ops')
      })
    }
  })

  t.test(`journal addresses are hex even when the ops gave integers (${kernel})`, async (t) => {
    const app = await buildTestApp(t)
    const s = await createSession(app, kernel)
    await opsOk(app, s, {
      ops: [
        { op: 'spawn', proc: 'P' },
        { op: 'mmap', proc: 'P', addr: 0x10000000, pages: 4, kind: 'anon' },
        { op: 'write', proc: 'P', addr: 0x10000010 },
        { op: 'read', pid: 1, addr: 0x10001fff },
        { op: 'mprotect', proc: 'P', addr: 0x10002000, pages: 1, prot: 'r' },
        { op: 'mremap', proc: 'P', addr: 0x10003000, pages: 1, newPages: 2, newAddr: 0x20000000, mayMove: true },
        { op: 'dontneed', proc: 'P', addr: 0x10001000, pages: 1 },
        { op: 'munmap', proc: 'P', addr: 0x10002000, pages: 1 },
        { op: 'fork', proc: 'P', child: 'C' },
        { op: 'probe', proc: 'C', addr: 0x10000000, as: 'x' }
      ]
    })
    const j = await journalOf(app, s)
    t.strictSame(addressProblems(j.ops), [])
    t.strictSame(j.ops.map((o) => o.op), ['spawn', 'mmap', 'write', 'read', 'mprotect', 'mremap', 'madvise', 'munmap', 'fork'])
    t.equal(j.ops[1].addr, '0x10000000')
    t.equal(j.ops[2].addr, '0x10000010', 'an access keeps its byte address')
    t.equal(j.ops[3].addr, '0x10001fff')
    t.equal(j.ops[5].newAddr, '0x20000000')
    t.ok(j.ops.every((o) => !('proc' in o)), 'processes by pid')
    const b = await createSession(app, kernel)
    t.equal(await replay(app, b, j.ops), 0)
    t.equal(await snapshotText(app, b), await snapshotText(app, s))
  })

  t.test(`a restored session: fromSnapshot, and snapshot + journal rebuild it (${kernel})`, async (t) => {
    const app = await buildTestApp(t)
    const a = await createSession(app, kernel)
    const gen = new OpGenerator(31)
    await runRandom(app, a, gen, 5, 30)
    const snap = await snapshotText(app, a)
    const b = await restore(app, snap)
    const j0 = await journalOf(app, b)
    t.equal(j0.fromSnapshot, true, 'fromSnapshot is true for a restored session')
    t.equal(j0.kernel, kernel)
    t.strictSame(j0.ops, [], 'its journal starts empty (at the snapshot)')
    t.equal((await journalOf(app, a)).fromSnapshot, false, 'the source is not from a snapshot')

    await runRandom(app, b, gen, 4, 30)
    const j1 = await journalOf(app, b)
    t.equal(j1.fromSnapshot, true)
    t.ok(j1.ops.length > 0, `${j1.ops.length} ops since the restore`)
    t.strictSame(addressProblems(j1.ops), [])
    const c = await restore(app, snap)
    t.equal(await replay(app, c, j1.ops), 0)
    const [x, y] = [await stateOf(app, b), await stateOf(app, c)]
    t.equal(y.snapshot, x.snapshot, 'the snapshot then the journal give the identical state')
    t.equal(y.events, x.events)
    t.equal(y.journal, x.journal)
  })
}

t.test('failed ops never reach the journal', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18')
  await opsOk(app, s, { ops: [{ op: 'spawn', proc: 'P' }, { op: 'mmap', proc: 'P', addr: '0x10000000', pages: 1, kind: 'anon' }] })
  const before = await journalOf(app, s)
  const res = await app.inject({ method: 'POST', url: `${s.base}/ops`, headers: s.headers, payload: { ops: [{ op: 'write', proc: 'P', addr: '0x10000000' }, { op: 'read', proc: 'P', addr: '0x50000000' }] } })
  t.equal(res.statusCode, 422)
  t.strictSame(await journalOf(app, s), before, 'an atomic failure adds nothing')
  const b = await opsOk(app, s, { mode: 'continue', ops: [{ op: 'read', proc: 'P', addr: '0x50000000' }, { op: 'write', proc: 'P', addr: '0x10000000' }, { op: 'exit', proc: 'Q' }] })
  t.equal(b.failed, 2)
  const after = await journalOf(app, s)
  t.strictSame(after.ops, [...before.ops, { op: 'write', pid: 1, addr: '0x10000000' }], 'continue mode: only the successful write')
})
