import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, call, createSession, type TestSession } from '../helper.js'
import { expectError, expectValidation, jsonOf, ok, req } from './api-helpers.js'
import { KERNELS, opsOk, postOps, stateOf, type BatchBody, type BatchReply, type KernelName, type WireOp } from './grading-helpers.js'

/**
 * POST /v1/sessions/:sid/ops: atomic batches (all or nothing: a failure answers 422 batch_failed
 * naming the op, and the snapshot, the journal and the event counter are byte for byte what they
 * were), continue batches (every op tried, each failure reported, the rest applied, leaving no
 * trace of the failures), and the batch limits (MAX_BATCH_OPS, BODY_LIMIT).
 */

/** A machine with a parent and a child sharing an anonymous page, a file mapping and a file. */
async function baseline (app: FastifyInstance, kernel: KernelName): Promise<TestSession> {
  const s = await createSession(app, kernel)
  await opsOk(app, s, {
    files: { lib: { pages: 4 } },
    ops: [
      { op: 'spawn', proc: 'P' },
      { op: 'mmap', proc: 'P', addr: '0x10000000', pages: 4, kind: 'anon' },
      { op: 'mmap', proc: 'P', addr: '0x20000000', pages: 4, kind: 'file', file: 'lib' },
      { op: 'write', proc: 'P', addr: '0x10000000' },
      { op: 'read', proc: 'P', addr: '0x10001000' },
      { op: 'read', proc: 'P', addr: '0x20000000' },
      { op: 'fork', proc: 'P', child: 'C' },
      { op: 'read', proc: 'C', addr: '0x20001000' }
    ]
  })
  return s
}

interface RollbackCase {
  what: string
  ops: WireOp[]
  /** Index of the op that fails. */
  k: number
  code: string
  errno?: string
}

/** Every case starts with ops that would change the state (COW, mmap, spawn, fork, exit, write). */
const CASES: RollbackCase[] = [
  {
    what: 'a segfault (read where no VMA is) after spawn, mmap, write, fork',
    ops: [
      { op: 'spawn', proc: 'Q' },
      { op: 'mmap', proc: 'Q', addr: '0x50000000', pages: 2, kind: 'anon' },
      { op: 'write', proc: 'Q', addr: '0x50000000' },
      { op: 'fork', proc: 'Q', child: 'R' },
      { op: 'write', proc: 'P', addr: '0x10000000' },
      { op: 'read', proc: 'R', addr: '0x60000000' }
    ],
    k: 5,
    code: 'segfault',
    errno: 'SIGSEGV'
  },
  {
    what: 'a segfault on a write to a read-only mapping',
    ops: [
      { op: 'write', proc: 'C', addr: '0x10000000' },
      { op: 'mprotect', proc: 'C', addr: '0x10000000', pages: 1, prot: 'r' },
      { op: 'write', proc: 'C', addr: '0x10000000' }
    ],
    k: 2,
    code: 'segfault'
  },
  {
    what: 'an unknown process: a name that exited earlier in the same batch',
    ops: [
      { op: 'write', proc: 'P', addr: '0x10001000' },
      { op: 'exit', proc: 'C' },
      { op: 'write', proc: 'C', addr: '0x10000000' }
    ],
    k: 2,
    code: 'not_found',
    errno: 'ESRCH'
  },
  {
    what: 'an unknown pid',
    ops: [
      { op: 'mmap', proc: 'P', addr: '0x40000000', pages: 2, kind: 'anon' },
      { op: 'write', proc: 'P', addr: '0x40000000' },
      { op: 'fork', pid: 999, child: 'X' }
    ],
    k: 2,
    code: 'not_found'
  },
  {
    what: 'an overlapping MAP_FIXED_NOREPLACE mmap, over a VMA the same batch created',
    ops: [
      { op: 'mmap', proc: 'P', addr: '0x30000000', pages: 2, kind: 'anon', fixed: 'noreplace' },
      { op: 'write', proc: 'P', addr: '0x30000000' },
      { op: 'mmap', proc: 'P', addr: '0x30001000', pages: 1, kind: 'anon', fixed: 'noreplace' }
    ],
    k: 2,
    code: 'conflict',
    errno: 'EEXIST'
  },
  {
    what: 'an invalid (unaligned) address to munmap',
    ops: [
      { op: 'write', proc: 'C', addr: '0x10000000' },
      { op: 'munmap', proc: 'P', addr: '0x10000001', pages: 1 }
    ],
    k: 1,
    code: 'invalid_argument',
    errno: 'EINVAL'
  },
  {
    what: 'an address beyond the user address space',
    ops: [
      { op: 'dontneed', proc: 'P', addr: '0x10000000', pages: 1 },
      { op: 'read', proc: 'P', addr: 2 ** 47 }
    ],
    k: 1,
    code: 'invalid_argument',
    errno: 'EFAULT'
  },
  {
    what: 'a SIGBUS beyond the end of the file',
    ops: [
      { op: 'mmap', proc: 'P', addr: '0x60000000', pages: 6, kind: 'file', file: 'lib' },
      { op: 'read', proc: 'P', addr: '0x60000000' },
      { op: 'read', proc: 'P', addr: '0x60005000' }
    ],
    k: 2,
    code: 'bus_error',
    errno: 'SIGBUS'
  },
  {
    what: 'the very first op',
    ops: [
      { op: 'munmap', proc: 'nobody', addr: '0x10000000', pages: 1 },
      { op: 'spawn', proc: 'Z' }
    ],
    k: 0,
    code: 'not_found'
  },
  {
    what: 'a frame op after a swap-out and a migration',
    ops: [
      { op: 'unmap', pfn: 4101 },
      { op: 'read', proc: 'P', addr: '0x10000000' },
      { op: 'spawn', proc: 'S' },
      { op: 'migrate', pfn: 4096 }
    ],
    k: 3,
    code: 'unsupported'
  }
]

for (const kernel of KERNELS) {
  t.test(`atomic /ops rolls back everything when one op fails (${kernel})`, async (t) => {
    const app = await buildTestApp(t)
    const s = await baseline(app, kernel)
    for (const c of CASES) {
      await t.test(c.what, async (t) => {
        const before = await stateOf(app, s)
        const res = await postOps(app, s, { mode: 'atomic', ops: c.ops })
        const e = expectError(t, res, 422, 'batch_failed', c.what)
        const d = (e.details ?? {}) as { mode?: string, applied?: boolean, firstFailure?: { index: number, op: string, ok: boolean, error?: { code: string, message: string, details?: Record<string, unknown> } } }
        t.equal(d.mode, 'atomic')
        t.equal(d.applied, false)
        t.equal(d.firstFailure?.index, c.k, 'firstFailure.index is the failing op')
        t.equal(d.firstFailure?.op, c.ops[c.k].op, 'firstFailure.op names it')
        t.equal(d.firstFailure?.ok, false)
        t.equal(d.firstFailure?.error?.code, c.code, `the op's own error code (${c.code})`)
        t.ok(typeof d.firstFailure?.error?.message === 'string' && d.firstFailure.error.message.length > 0, 'with a message')
        if (c.errno !== undefined) t.equal(d.firstFailure?.error?.details?.errno, c.errno, `errno ${c.errno}`)
        t.match(e.message, new RegExp(`^op ${c.k} \\(${c.ops[c.k].op}\\)`), 'the message names the op')
        const after = await stateOf(app, s)
        t.equal(after.snapshot, before.snapshot, 'GET /snapshot is byte-identical')
        t.equal(after.journal, before.journal, 'GET /journal is byte-identical')
        t.equal(after.events, before.events, 'no event was emitted (counts.events)')

        // Not vacuous: the same batch without its failing op does change the state.
        if (c.k > 0) {
          const probe = await createSession(app, kernel)
          await opsOk(app, probe, { ops: JSON.parse(before.journal).ops })
          t.equal((await stateOf(app, probe)).snapshot, before.snapshot, 'a copy made from the journal')
          const r = await postOps(app, probe, { mode: 'atomic', ops: c.ops.slice(0, c.k) })
          t.equal(r.statusCode, 200, `the ops before the failing one succeed on their own (${r.body.slice(0, 200)})`)
          const changed = await stateOf(app, probe)
          t.not(changed.snapshot, before.snapshot, 'and they change the snapshot')
          t.ok(changed.events > before.events, 'and emit events')
        }
      })
    }
    // The session still works after every refusal.
    const r = await opsOk(app, s, { ops: [{ op: 'write', proc: 'C', addr: '0x10000000' }] })
    t.equal(r.results[0].result.path, 'cow_copy', 'a later batch applies normally')
  })

  t.test(`atomic /ops with files: a failure undoes the files too (${kernel})`, async (t) => {
    const app = await buildTestApp(t)
    const s = await baseline(app, kernel)
    const before = await stateOf(app, s)
    const res = await postOps(app, s, { files: { newfile: { pages: 2 } }, ops: [{ op: 'spawn', proc: 'Z' }, { op: 'mmap', proc: 'Z', addr: '0x10000000', pages: 1, kind: 'file', file: 'newfile' }, { op: 'read', proc: 'Z', addr: '0x90000000' }] })
    const e = expectError(t, res, 422, 'batch_failed')
    const f = (e.details as { firstFailure?: { op: string, error?: { code: string } } }).firstFailure
    t.equal(f?.op, 'read')
    t.equal(f?.error?.code, 'segfault')
    const after = await stateOf(app, s)
    t.equal(after.snapshot, before.snapshot, 'snapshot unchanged: the file was not created')
    t.equal(after.journal, before.journal)
    t.equal(after.events, before.events)
    const files = await req(app, s, 'GET', '/files')
    t.strictSame(files.files.map((x: { name: string }) => x.name), ['lib'], 'only the old file')
  })

  t.test(`continue /ops: every op tried, each failure reported, the rest applied (${kernel})`, async (t) => {
    const app = await buildTestApp(t)
    const s = await createSession(app, kernel)
    const ops: WireOp[] = [
      /* 0 */ { op: 'createFile', name: 'lib', pages: 4 },
      /* 1 */ { op: 'spawn', proc: 'P' },
      /* 2 */ { op: 'mmap', proc: 'P', addr: '0x10000000', pages: 4, kind: 'anon' },
      /* 3 */ { op: 'write', proc: 'P', addr: '0x10000000' },
      /* 4 */ { op: 'read', proc: 'P', addr: '0x20000000' },
      /* 5 */ { op: 'fork', proc: 'P', child: 'C' },
      /* 6 */ { op: 'write', proc: 'nobody', addr: '0x10000000' },
      /* 7 */ { op: 'mmap', proc: 'P', addr: '0x10000000', pages: 1, kind: 'anon', fixed: 'noreplace' },
      /* 8 */ { op: 'munmap', proc: 'P', addr: '0x10000001', pages: 1 },
      /* 9 */ { op: 'mmap', proc: 'P', addr: '0x30000000', pages: 6, kind: 'file', file: 'lib' },
      /* 10 */ { op: 'read', proc: 'P', addr: '0x30000000' },
      /* 11 */ { op: 'read', proc: 'P', addr: '0x30005000' },
      /* 12 */ { op: 'probe', proc: 'P', addr: '0x10000000', as: 'p-anon' },
      /* 13 */ { op: 'probe', proc: 'C', addr: '0x10000000', as: 'c-anon' },
      /* 14 */ { op: 'probe', proc: 'P', addr: '0x10001000', as: 'p-none' },
      /* 15 */ { op: 'probe', proc: 'P', addr: '0x30000000', as: 'p-file' },
      /* 16 */ { op: 'spawn', proc: 'Q' },
      /* 17 */ { op: 'exit', proc: 'Q' },
      /* 18 */ { op: 'fork', pid: 999 },
      /* 19 */ { op: 'spawn', proc: 'P' },
      /* 20 */ { op: 'mmap', proc: 'P', kind: 'file', file: 'nofile', pages: 1 },
      /* 21 */ { op: 'write', proc: 'C', addr: '0x10000000' },
      /* 22 */ { op: 'probe', proc: 'C', addr: '0x10000000', as: 'c-after' },
      /* 23 */ { op: 'migrate', pfn: 4096 },
      /* 24 */ { op: 'probe', proc: 'Q', addr: '0x10000000', as: 'q-gone' },
      /* 25 */ { op: 'read', pid: 2, addr: '0x10002000' }
    ]
    const failures: Record<number, string> = { 4: 'segfault', 6: 'not_found', 7: 'conflict', 8: 'invalid_argument', 11: 'bus_error', 18: 'not_found', 19: 'conflict', 20: 'not_found', 23: 'unsupported', 24: 'not_found' }
    const res = await postOps(app, s, { mode: 'continue', ops })
    const b = ok<BatchReply>(t, res, 200, 'continue batch')
    t.equal(b.applied, true)
    t.equal(b.mode, 'continue')
    t.equal(b.failed, Object.keys(failures).length, 'failed counts the failures')
    t.equal(b.firstFailure, undefined, 'no firstFailure in continue mode')
    t.equal(b.results.length, ops.length, 'one result per op')
    for (const [i, r] of b.results.entries()) {
      t.equal(r.index, i, `result ${i} has its index`)
      t.equal(r.op, ops[i].op, `result ${i} names its op`)
      const code = failures[i]
      if (code === undefined) {
        t.equal(r.ok, true, `op ${i} (${ops[i].op}) succeeded (${JSON.stringify(r.error ?? null)})`)
        t.equal(r.error, undefined)
      } else {
        t.equal(r.ok, false, `op ${i} (${ops[i].op}) failed`)
        t.equal(r.error?.code, code, `op ${i} failed with ${code}`)
        t.ok(typeof r.error?.message === 'string' && r.error.message.length > 0, `op ${i} has a message`)
        t.ok(typeof r.error?.details?.errno === 'string', `op ${i} has an errno`)
        t.equal(r.result, undefined, `op ${i} has no result`)
      }
    }
    // Results look like the single-operation routes' replies.
    t.match(b.results[1].result, { pid: 1, name: 'P', parent: null })
    t.match(b.results[2].result, { start: '0x10000000', end: '0x10004000', pages: 4 })
    t.match(b.results[3].result, { path: 'anon_alloc', addr: '0x10000000', op: 'write' })
    t.match(b.results[5].result, { pid: 2, name: 'C', parent: 1 })
    t.match(b.results[21].result, { path: 'cow_copy' })
    t.strictSame(b.processes, { P: 1, C: 2 }, 'processes: live names -> pids (Q exited)')

    // Probes: grouped by frame.
    const anon = b.results[3].result.pfn as number
    const copy = b.results[21].result.pfn as number
    const file = b.results[10].result.pfn as number
    t.strictSame(b.probes.labels, { 'p-anon': anon, 'c-anon': anon, 'p-none': null, 'p-file': file, 'c-after': copy })
    t.strictSame(b.probes.same, [['c-after'], ['c-anon', 'p-anon'], ['p-file']], 'probes.same groups labels by PFN')
    t.strictSame(b.probes.unmapped, ['p-none'])
    for (const [i] of b.results.entries()) {
      if (ops[i].op === 'probe' && failures[i] === undefined) t.strictSame(b.results[i].result, { as: ops[i].as, pfn: b.probes.labels[ops[i].as as string] }, `probe ${i}'s result`)
    }

    // The rest was applied: the state over the single routes.
    const procs = await req(app, s, 'GET', '/processes')
    t.strictSame(procs.processes.map((p: { pid: number, name: string }) => [p.pid, p.name]), [[1, 'P'], [2, 'C']])
    const tr = await req(app, s, 'GET', '/processes/2/translate?addr=0x10000000')
    t.equal(tr.pfn, copy, "C's page is its COW copy")
    const tr2 = await req(app, s, 'GET', '/processes/2/translate?addr=0x10002000')
    t.equal(tr2.pfn, 4096, 'op 25 (by pid) mapped the zero page in C')

    // The failures left no trace: the successful ops alone, atomically, give the same state.
    const good = ops.filter((_, i) => failures[i] === undefined)
    const s2 = await createSession(app, kernel)
    const b2 = await opsOk(app, s2, { mode: 'atomic', ops: good })
    t.equal(b2.failed, 0)
    t.strictSame(b2.probes, b.probes, 'the same probe groups')
    const [x, y] = [await stateOf(app, s), await stateOf(app, s2)]
    t.equal(x.snapshot, y.snapshot, 'identical snapshot')
    t.equal(x.journal, y.journal, 'identical journal')
    t.equal(x.events, y.events, 'identical event count')
  })
}

t.test('continue /ops with files: the files are created first, in name order', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18')
  const b = await opsOk(app, s, { mode: 'continue', files: { zeta: { pages: 1 }, alpha: { pages: 2 } }, ops: [{ op: 'spawn', proc: 'P' }, { op: 'read', proc: 'P', addr: '0x10000000' }] })
  t.strictSame(b.files.map((r) => [r.op, r.result?.name]), [['createFile', 'alpha'], ['createFile', 'zeta']], 'file creations are reported apart')
  t.equal(b.failed, 1)
  t.equal(b.results[1].error?.code, 'segfault')
  t.equal(b.results[1].index, 1, 'results are numbered as the request\'s ops[]')
  const files = await req(app, s, 'GET', '/files')
  t.strictSame(files.files.map((f: { name: string }) => f.name).sort(), ['alpha', 'zeta'])
})

t.test('/ops validation: a malformed op is a 400 naming the field; nothing runs', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18')
  await opsOk(app, s, { ops: [{ op: 'spawn', proc: 'P' }] })
  const before = await stateOf(app, s)
  const bad: Array<[BatchBody | Record<string, unknown>, string[]]> = [
    [{ ops: [] }, ['body.ops']],
    [{ ops: [{ op: 'spawn' }, { op: 'fly' }] }, ['body.ops.1.op']],
    [{ ops: [{ op: 'spawn' }, { op: 'read', proc: 'P', addr: '10000000' }] }, ['body.ops.1.addr']],
    [{ ops: [{ op: 'mmap', proc: 'P', pages: 0 }] }, ['body.ops.0.pages']],
    [{ mode: 'sometimes', ops: [{ op: 'spawn' }] }, ['body.mode']],
    [{ ops: [{ op: 'spawn', bogus: 1 }] }, ['body.ops.0']]
  ]
  for (const [body, fields] of bad) {
    expectValidation(t, await postOps(app, s, body as BatchBody), fields, JSON.stringify(body))
  }
  const after = await stateOf(app, s)
  t.equal(after.snapshot, before.snapshot)
  t.equal(after.journal, before.journal)
  t.equal(after.events, before.events)
})

t.test('limits: more than MAX_BATCH_OPS ops is a 400; exactly the limit is fine', async (t) => {
  await t.test('default MAX_BATCH_OPS (1000)', async (t) => {
    const app = await buildTestApp(t)
    const s = await createSession(app, '6.18')
    await opsOk(app, s, { ops: [{ op: 'spawn', proc: 'P' }] })
    const before = await stateOf(app, s)
    const probes = (n: number): WireOp[] => Array.from({ length: n }, (_, i) => ({ op: 'probe', proc: 'P', addr: '0x10000000', as: `l${i}` }))
    const e = expectValidation(t, await postOps(app, s, { ops: [{ op: 'spawn', proc: 'Q' }, ...probes(1000)] }), ['body.ops'], '1001 ops')
    t.match(e.message, /1000/, 'the message gives the limit')
    const after = await stateOf(app, s)
    t.equal(after.snapshot, before.snapshot, 'nothing applied')
    t.equal(after.events, before.events)
    const b = await opsOk(app, s, { ops: [{ op: 'spawn', proc: 'Q' }, ...probes(999)] })
    t.equal(b.results.length, 1000, '1000 ops are accepted')
    t.strictSame(b.probes.unmapped.length, 999)
  })
  await t.test('MAX_BATCH_OPS=5', async (t) => {
    const app = await buildTestApp(t, { MAX_BATCH_OPS: '5' })
    const s = await createSession(app, '2.6.11')
    const spawns = (n: number): WireOp[] => Array.from({ length: n }, () => ({ op: 'spawn' }))
    expectValidation(t, await postOps(app, s, { ops: spawns(6) }), ['body.ops'], '6 ops')
    expectValidation(t, await postOps(app, s, { mode: 'continue', ops: spawns(6) }), ['body.ops'], '6 ops in continue mode')
    t.equal((await req(app, s, 'GET', '/')).counts.processes, 0, 'nothing applied')
    const b = await opsOk(app, s, { ops: spawns(5) })
    t.equal(b.results.length, 5)
    t.equal((await req(app, s, 'GET', '/')).counts.processes, 5)
  })
})

t.test('limits: a body over BODY_LIMIT is a 413; nothing runs', async (t) => {
  await t.test('BODY_LIMIT=2048', async (t) => {
    const app = await buildTestApp(t, { BODY_LIMIT: '2048' })
    const s = await createSession(app, '6.18')
    await opsOk(app, s, { ops: [{ op: 'spawn', proc: 'P' }] })
    const before = await stateOf(app, s)
    const spawns = (n: number): WireOp[] => Array.from({ length: n }, (_, i) => ({ op: 'spawn', proc: `process-with-a-long-name-${i}` }))
    const big: BatchBody = { ops: spawns(60) }
    t.ok(JSON.stringify(big).length > 2048, 'the body is over the limit')
    expectError(t, await postOps(app, s, big), 413, 'limit', 'over BODY_LIMIT')
    const after = await stateOf(app, s)
    t.equal(after.snapshot, before.snapshot, 'nothing applied')
    t.equal(after.journal, before.journal)
    t.equal(after.events, before.events)
    const small: BatchBody = { ops: spawns(20) }
    t.ok(JSON.stringify(small).length < 2048)
    t.equal((await opsOk(app, s, small)).results.length, 20, 'a body under the limit is fine')
  })
  await t.test('default BODY_LIMIT (1 MiB)', async (t) => {
    const app = await buildTestApp(t)
    const s = await createSession(app, '2.6.11')
    const res = await call(app, s, 'POST', '/ops', { ops: [{ op: 'spawn' }], description: 'x'.repeat((1 << 20) + 10) })
    expectError(t, res, 413, 'limit', 'over 1 MiB')
    t.equal((jsonOf(res) as { error: { details?: { code?: string } } }).error.details?.code, 'FST_ERR_CTP_BODY_TOO_LARGE')
    t.equal((await req(app, s, 'GET', '/')).counts.processes, 0)
  })
})

t.test("a failed op's error in a batch is the single route's error (code, message, details with hex addresses)", async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18')
  await opsOk(app, s, { ops: [{ op: 'spawn', proc: 'P' }, { op: 'mmap', proc: 'P', addr: '0x10000000', pages: 2, kind: 'anon' }] })
  const cases: Array<[WireOp, string, Record<string, unknown>]> = [
    [{ op: 'munmap', pid: 1, addr: '0x10000001', pages: 1 }, '/processes/1/munmap', { addr: '0x10000001', pages: 1 }],
    [{ op: 'mmap', pid: 1, addr: '0x10001000', pages: 1, fixed: 'noreplace' }, '/processes/1/mmap', { addr: '0x10001000', pages: 1, fixed: 'noreplace' }],
    [{ op: 'mprotect', pid: 1, addr: '0x30000000', pages: 1, prot: 'r' }, '/processes/1/mprotect', { addr: '0x30000000', pages: 1, prot: 'r' }]
  ]
  for (const [op, path, body] of cases) {
    const single = await call(app, s, 'POST', path, body)
    t.ok(single.statusCode >= 400, `${path} fails on its own (${single.statusCode})`)
    const want = (jsonOf(single) as { error: { code: string, message: string, details?: Record<string, unknown> } }).error
    const b = await opsOk(app, s, { mode: 'continue', ops: [op] })
    const got = b.results[0].error
    t.equal(got?.code, want.code, `${op.op}: the same code`)
    t.equal(got?.message, want.message, `${op.op}: the same message`)
    t.strictSame(got?.details, want.details, `${op.op}: the same details, addresses in hex (batch ${JSON.stringify(got?.details)}, route ${JSON.stringify(want.details)})`)
    const atomic = await postOps(app, s, { ops: [op] })
    const f = ((jsonOf(atomic) as { error: { details: { firstFailure: { error: { details?: unknown } } } } }).error.details.firstFailure.error)
    t.strictSame(f.details, want.details, `${op.op}: firstFailure of an atomic batch too`)
  }
})
