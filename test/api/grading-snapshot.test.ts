import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, call, createSession, type TestSession } from '../helper.js'
import { expectError, expectValidation, jsonOf, req } from './api-helpers.js'
import {
  ADMIN, KERNELS, OpGenerator, opsOk, postOps, postSession, restore, runRandom, sessionCount, sessionOf, snapshotText, stateOf, type KernelName
} from './grading-helpers.js'

/**
 * GET /snapshot and POST /v1/sessions {snapshot}: after long random sequences (several hundred ops
 * of every kind, in continue mode) a restored session is the same machine — the same snapshot, the
 * same replies and the same snapshots after the same further ops — and malformed or inconsistent
 * snapshots are refused with a 4xx naming the problem, creating no session.
 */

const SEEDS = [11, 12, 13]
const BATCHES = 12
const BATCH = 30

for (const kernel of KERNELS) {
  t.test(`snapshot round trips after long random sequences (${kernel})`, async (t) => {
    const app = await buildTestApp(t)
    for (const seed of SEEDS) {
      await t.test(`seed ${seed}`, async (t) => {
        const a = await createSession(app, kernel)
        const gen = new OpGenerator(seed)
        const { replies } = await runRandom(app, a, gen, BATCHES, BATCH)
        const failed = replies.reduce((n, r) => n + (JSON.parse(r) as { failed: number }).failed, 0)
        const total = BATCHES * BATCH
        t.ok(failed < total * 0.75, `${total - failed} of ${total} random ops succeeded (${failed} failed on purpose or by chance)`)
        t.ok(total - failed >= 100, 'a long sequence of successful ops')

        const snapA = await snapshotText(app, a)
        const parsed = JSON.parse(snapA) as { kernel: string, processes: unknown[], frames: { pages: unknown[] }, counters: { eventSeq: number } }
        t.equal(parsed.kernel, kernel)
        t.ok(parsed.frames.pages.length > 10, `${parsed.frames.pages.length} frames in use`)
        t.equal(parsed.counters.eventSeq, (await req(app, a, 'GET', '/')).counts.events, 'counters.eventSeq is counts.events')

        const b = await restore(app, snapA)
        const snapB = await snapshotText(app, b)
        t.equal(snapB, snapA, 'GET /snapshot of the restored session is identical')
        const summaryA = await req(app, a, 'GET', '/')
        const summaryB = await req(app, b, 'GET', '/')
        t.strictSame(summaryB.counts, summaryA.counts, 'the same counts')
        t.strictSame(summaryB.limits, summaryA.limits, 'the same limits')
        t.equal(summaryB.kernel, kernel)
        const check = jsonOf(await call(app, b, 'GET', '/check')) as { violations: string[] }
        t.strictSame(check.violations, [], 'the restored session passes every invariant')

        // The same further ops on both: identical replies and snapshots.
        for (let i = 0; i < 3; i++) {
          const body = gen.batch(BATCH)
          const ra = await postOps(app, a, body)
          const rb = await postOps(app, b, body)
          t.equal(ra.statusCode, 200)
          t.equal(rb.body, ra.body, `further batch ${i}: identical replies`)
          gen.learn(ra.json())
          await gen.refresh(app, a)
          if (rb.body !== ra.body) break
        }
        // And an atomic batch that fails at the end: the same refusal on both.
        const bad = { mode: 'atomic' as const, ops: [{ op: 'spawn', proc: 'late' }, { op: 'read', proc: 'late', addr: '0x70000000' }] }
        const fa = await postOps(app, a, bad)
        const fb = await postOps(app, b, bad)
        t.equal(fa.statusCode, 422)
        t.equal(fb.body, fa.body, 'the same refusal')
        const [x, y] = [await stateOf(app, a), await stateOf(app, b)]
        t.equal(y.snapshot, x.snapshot, 'identical snapshots after the further ops')
        t.equal(y.events, x.events, 'identical event counts')
        const jb = JSON.parse(y.journal) as { fromSnapshot: boolean, ops: unknown[] }
        t.equal(jb.fromSnapshot, true, 'the restored session says it came from a snapshot')
        t.equal((JSON.parse(x.journal) as { fromSnapshot: boolean }).fromSnapshot, false)

        // A snapshot of a restored session restores too (and a second generation is the same).
        const c = await restore(app, y.snapshot)
        t.equal(await snapshotText(app, c), y.snapshot, 'a snapshot of a restored session round-trips')
      })
    }
  })
}

t.test('a restored session is independent of its source', async (t) => {
  const app = await buildTestApp(t)
  const a = await createSession(app, '6.18')
  await opsOk(app, a, { ops: [{ op: 'spawn', proc: 'P' }, { op: 'mmap', proc: 'P', addr: '0x10000000', pages: 2, kind: 'anon' }, { op: 'write', proc: 'P', addr: '0x10000000' }] })
  const snap = await snapshotText(app, a)
  const b = await restore(app, snap)
  t.not(b.id, a.id)
  await opsOk(app, b, { ops: [{ op: 'fork', proc: 'P', child: 'C' }, { op: 'write', proc: 'C', addr: '0x10000000' }] })
  t.equal(await snapshotText(app, a), snap, 'ops on the copy leave the source alone')
  const wrongToken = await app.inject({ method: 'GET', url: `${b.base}/snapshot`, headers: a.headers })
  expectError(t, wrongToken, 401, 'unauthorized', "the source's token does not open the copy")
})

// ---------------------------------------------------------------------------------- refusals

type Snap = Record<string, any>

interface Refusal {
  what: string
  mutate: (s: Snap) => void
  status: number
  code: string
  /** What the message (or the validation issues) must name. */
  names: RegExp
  /** Issue fields a validation error must list. */
  fields?: string[]
}

const REFUSALS: Refusal[] = [
  { what: 'a wrong format', mutate: (s) => { s.format = 'other-snapshot' }, status: 400, code: 'validation', names: /format/, fields: ['body.snapshot.format'] },
  { what: 'a wrong version', mutate: (s) => { s.version = 2 }, status: 400, code: 'validation', names: /version/, fields: ['body.snapshot.version'] },
  { what: 'a missing top-level field (counters)', mutate: (s) => { delete s.counters }, status: 400, code: 'validation', names: /counters/, fields: ['body.snapshot.counters'] },
  { what: 'a missing nested field (a process\'s rss)', mutate: (s) => { delete s.processes[0].rss }, status: 400, code: 'validation', names: /rss/, fields: ['body.snapshot.processes.0.rss'] },
  { what: 'a missing frames table', mutate: (s) => { delete s.frames }, status: 400, code: 'validation', names: /frames/, fields: ['body.snapshot.frames'] },
  { what: 'an unknown field', mutate: (s) => { s.extra = 1 }, status: 400, code: 'validation', names: /extra|snapshot/ },
  { what: 'an unknown kernel', mutate: (s) => { s.kernel = '5.4' }, status: 400, code: 'validation', names: /kernel/, fields: ['body.snapshot.kernel'] },
  {
    what: 'a mapcount that disagrees with the PTEs',
    mutate: (s) => { const p = s.frames.pages.find((x: number[]) => x[3] >= 0); p[3] += 1 },
    status: 400,
    code: 'invalid_argument',
    names: /mapcount/
  },
  {
    what: 'a PTE in no page table',
    mutate: (s) => { s.processes[0].ptes.push([0x7000_0000_0000, 0x1005067]) },
    status: 400,
    code: 'invalid_argument',
    names: /no page table/
  },
  {
    what: 'an unknown anon_vma id on a VMA',
    mutate: (s) => { const v = s.processes[0].vmas.find((x: { anonVma: number | null }) => x.anonVma !== null); v.anonVma = 999 },
    status: 400,
    code: 'invalid_argument',
    names: /anon_vma 999/
  },
  {
    what: 'an unknown anon_vma id in a chain',
    mutate: (s) => { const v = s.processes[0].vmas.find((x: { chain: number[] }) => x.chain.length > 0); if (v !== undefined) v.chain.push(777); else s.anonVmas[0].root = 777 },
    status: 400,
    code: 'invalid_argument',
    names: /anon_vma 777/
  },
  {
    what: 'overlapping VMAs',
    mutate: (s) => { const v = s.processes[0].vmas; v[1].start = v[0].start },
    status: 400,
    code: 'invalid_argument',
    names: /overlapping/
  },
  {
    what: 'a frame listed twice',
    mutate: (s) => { s.frames.pages.push(s.frames.pages[0]) },
    status: 400,
    code: 'invalid_argument',
    names: /twice/
  },
  {
    what: 'a frame both free and in use',
    mutate: (s) => { s.frames.free.push(s.frames.pages[0][0]) },
    status: 400,
    code: 'invalid_argument',
    names: /free and in use/
  },
  {
    what: 'a VMA on an unknown address_space',
    mutate: (s) => { const v = s.processes[0].vmas.find((x: { file: number | null }) => x.file !== null); v.file = 4242 },
    status: 400,
    code: 'invalid_argument',
    names: /address_space 4242/
  },
  {
    what: 'limits above the server maximum',
    mutate: (s) => { s.limits.maxFrames = 1 << 30 },
    status: 413,
    code: 'limit',
    names: /maxFrames/
  }
]

/** A machine with anon, file, shared and swapped pages, a fork, several VMAs per process. */
async function source (app: FastifyInstance, kernel: KernelName): Promise<TestSession> {
  const s = await createSession(app, kernel)
  await opsOk(app, s, {
    files: { lib: { pages: 6 } },
    ops: [
      { op: 'spawn', proc: 'P' },
      { op: 'mmap', proc: 'P', addr: '0x10000000', pages: 4, kind: 'anon' },
      { op: 'mmap', proc: 'P', addr: '0x20000000', pages: 4, kind: 'file', file: 'lib' },
      { op: 'mmap', proc: 'P', addr: '0x30000000', pages: 2, kind: 'file', file: 'lib', shared: true, offset: 4 },
      { op: 'write', proc: 'P', addr: '0x10000000' },
      { op: 'write', proc: 'P', addr: '0x10001000' },
      { op: 'read', proc: 'P', addr: '0x20000000' },
      { op: 'write', proc: 'P', addr: '0x30000000' },
      { op: 'fork', proc: 'P', child: 'C' },
      { op: 'write', proc: 'C', addr: '0x10001000' },
      { op: 'unmap', pfn: 4101 }
    ]
  })
  return s
}

for (const kernel of KERNELS) {
  t.test(`malformed or inconsistent snapshots are refused, and no session is created (${kernel})`, async (t) => {
    const app = await buildTestApp(t, { ADMIN_TOKEN: ADMIN })
    const s = await source(app, kernel)
    const good = JSON.parse(await snapshotText(app, s)) as Snap
    const count0 = await sessionCount(app)
    for (const r of REFUSALS) {
      await t.test(r.what, async (t) => {
        const snap = structuredClone(good)
        r.mutate(snap)
        t.not(JSON.stringify(snap), JSON.stringify(good), 'the mutation changed something')
        const res = await postSession(app, { snapshot: snap })
        const e = r.fields !== undefined ? expectValidation(t, res, r.fields, r.what) : expectError(t, res, r.status, r.code, r.what)
        t.equal(res.statusCode, r.status)
        t.equal(e.code, r.code)
        t.match(e.message + ' ' + JSON.stringify(e.details ?? {}), r.names, `the error names the problem (${e.message})`)
        t.equal(await sessionCount(app), count0, 'no session was created')
      })
    }

    await t.test('another model\'s snapshot: the kernel field swapped', async (t) => {
      const snap = structuredClone(good)
      snap.kernel = kernel === '6.18' ? '2.6.11' : '6.18'
      const res = await postSession(app, { snapshot: snap })
      t.ok(res.statusCode >= 400 && res.statusCode < 500, `refused with a 4xx (${res.statusCode} ${res.body.slice(0, 300)})`)
      t.equal(await sessionCount(app), count0, 'no session was created')
    })

    await t.test('an explicit kernel that does not match the snapshot\'s', async (t) => {
      const other = kernel === '6.18' ? '2.6.11' : '6.18'
      const e = expectError(t, await postSession(app, { kernel: other, snapshot: good }), 400, 'validation')
      t.match(e.message, new RegExp(`kernel ${other.replace(/\./g, '\\.')} does not match the snapshot's ${kernel.replace(/\./g, '\\.')}`))
      t.strictSame(e.details, { kernel: other, snapshotKernel: kernel })
      t.equal(await sessionCount(app), count0, 'no session was created')
    })

    await t.test('not a snapshot at all', async (t) => {
      for (const snap of [null, 'text', 42, [], {}]) {
        const res = await postSession(app, { snapshot: snap })
        expectError(t, res, 400, 'validation', JSON.stringify(snap))
      }
      t.equal(await sessionCount(app), count0, 'no session was created')
    })

    await t.test('the unchanged snapshot is accepted, with or without a matching kernel', async (t) => {
      const b = await restore(app, good)
      t.equal(await snapshotText(app, b), JSON.stringify(good))
      const c = await restore(app, good, kernel)
      t.equal(await snapshotText(app, c), JSON.stringify(good))
      t.equal(await sessionCount(app), count0 + 2, 'two sessions created')
    })
  })
}

interface Collision {
  what: string
  mutate: (s: Snap) => void
  names: RegExp
  /** Valid ops that, on an accepted snapshot, hand out a live id again. */
  ops: (s: Snap) => Array<Record<string, unknown>>
}

const maxOf = (xs: number[]): number => xs.reduce((a, b) => Math.max(a, b), 0)

/** Snapshots whose allocators would hand out ids (pids, VMA ids, anon_vma ids, swap slots) that are live. */
const COLLISIONS: Collision[] = [
  {
    what: 'counters.nextPid at a live pid',
    mutate: (s) => { s.counters.nextPid = maxOf(s.processes.map((p: { pid: number }) => p.pid)) },
    names: /nextPid|pid/i,
    ops: () => [{ op: 'spawn', proc: 'Z' }]
  },
  {
    what: 'counters.nextVmaId at a live VMA id',
    mutate: (s) => { s.counters.nextVmaId = 1 },
    names: /nextVmaId|VMA/i,
    ops: () => [{ op: 'mmap', pid: 1, addr: '0x50000000', pages: 1, kind: 'anon' }]
  },
  {
    what: 'counters.nextAnonVmaId at a live anon_vma id',
    mutate: (s) => { s.counters.nextAnonVmaId = 1 },
    names: /nextAnonVmaId|anon_vma/i,
    ops: () => [{ op: 'spawn', proc: 'Z' }, { op: 'mmap', proc: 'Z', addr: '0x50000000', pages: 1, kind: 'anon' }, { op: 'write', proc: 'Z', addr: '0x50000000' }]
  },
  {
    what: 'swap.next at a swap slot in use',
    mutate: (s) => { s.swap.next = Math.min(...s.swap.map.map((m: number[]) => m[0])) },
    names: /swap/i,
    // A new anonymous page (the lowest never-used PFN) swapped out: it gets the slot at swap.next.
    ops: (s) => [{ op: 'write', pid: 1, addr: '0x10002000' }, { op: 'unmap', pfn: s.frames.next }, { op: 'unmap', pfn: s.frames.next }, { op: 'read', pid: 1, addr: '0x10000000' }]
  }
]

for (const kernel of KERNELS) {
  t.test(`snapshots whose counters collide with live ids, or that break the engine's own rules, are refused (${kernel})`, async (t) => {
    const app = await buildTestApp(t, { ADMIN_TOKEN: ADMIN })
    const s = await source(app, kernel)
    const good = JSON.parse(await snapshotText(app, s)) as Snap
    t.ok(good.swap.map.length > 0, 'the source has a swap slot in use')
    for (const c of COLLISIONS) {
      await t.test(c.what, async (t) => {
        const snap = structuredClone(good)
        c.mutate(snap)
        t.not(JSON.stringify(snap), JSON.stringify(good), 'the mutation changed something')
        const count0 = await sessionCount(app)
        const res = await postSession(app, { snapshot: snap })
        if (res.statusCode === 201) {
          // Show what accepting it leads to: a valid op, then the invariants and a second restore.
          const n = sessionOf(res)
          const ops = c.ops(snap)
          const r = await postOps(app, n, { mode: 'continue', ops: ops as never })
          const check = jsonOf(await call(app, n, 'GET', '/check')) as { violations: string[] }
          const again = await postSession(app, { snapshot: JSON.parse(await snapshotText(app, n)) })
          t.fail(`accepted (201); then ${JSON.stringify(ops)} -> ${r.statusCode} ${JSON.stringify((jsonOf(r) as { results?: Array<{ result?: { pid?: number, id?: number, swapSlot?: number } }> }).results?.map((x) => x.result?.pid ?? x.result?.id ?? x.result?.swapSlot ?? null))}; /check: ${JSON.stringify(check.violations.slice(0, 3))}; its own snapshot restores with ${again.statusCode} ${again.body.slice(0, 160)}`)
          return
        }
        const e = expectError(t, res, 400, undefined, c.what)
        t.match(e.message, c.names, `the error names the problem (${e.message})`)
        t.equal(await sessionCount(app), count0, 'no session was created')
      })
    }

    await t.test('two live processes with the same name', async (t) => {
      const snap = structuredClone(good)
      snap.processes[1].name = snap.processes[0].name
      const count0 = await sessionCount(app)
      const res = await postSession(app, { snapshot: snap })
      t.equal(res.statusCode, 400, `refused: names are unique among live processes, as spawn and fork enforce (${res.statusCode} ${res.body.slice(0, 200)})`)
      t.equal(await sessionCount(app), res.statusCode === 201 ? count0 + 1 : count0)
    })

    await t.test('a VMA that ends beyond the user address space', async (t) => {
      const snap = structuredClone(good)
      const vmas = snap.processes[0].vmas
      vmas[vmas.length - 1].end = 2 ** 48
      const res = await postSession(app, { snapshot: snap })
      t.equal(res.statusCode, 400, `refused (${res.statusCode} ${res.body.slice(0, 200)})`)
    })
  })
}

t.test('a restore counts against MAX_SESSIONS', async (t) => {
  const app = await buildTestApp(t, { ADMIN_TOKEN: ADMIN, MAX_SESSIONS: '1' })
  const s = await createSession(app, '6.18')
  const snap = await snapshotText(app, s)
  expectError(t, await postSession(app, { snapshot: JSON.parse(snap) }), 429, 'limit')
  t.equal(await sessionCount(app), 1)
})
