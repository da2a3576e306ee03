import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, call, createSession, type TestSession } from '../helper.js'
import { expectError, expectValidation, ok, req, type TapLike as LooseTap } from './api-helpers.js'
import { KERNELS, opsOk, stateOf, type KernelName } from './grading-helpers.js'

/**
 * POST /compare: a grader's expected answer for a frame (counters, kind, flags, the mapping set of
 * its rmap walk), a PTE, or a process (VMAs by start, rss), diffed field by field: match when every
 * field is equal; each field listed with expected, actual and ok; 404 for an unknown pfn or pid; 400
 * for a malformed body. Comparing changes nothing.
 */

/** tap's Test: `same` is loose ("0x10" == 16), so diffs are checked with strictSame. */
type TapLike = LooseTap & { strictSame: (found: any, wanted: any, ...rest: any[]) => unknown }

interface Diff { field: string, expected: unknown, actual: unknown, ok: boolean }
interface CompareReply { match: boolean, mismatches: number, diffs: Diff[] }

interface World { s: TestSession, anon: number, file: number, copy: number }

/** P: anon 0x10000000 (4 pages) written, file 0x20000000 (4 pages) read; fork C; C writes page 1. */
async function world (app: FastifyInstance, kernel: KernelName): Promise<World> {
  const s = await createSession(app, kernel)
  const b = await opsOk(app, s, {
    files: { lib: { pages: 4 } },
    ops: [
      { op: 'spawn', proc: 'P' },
      { op: 'mmap', proc: 'P', addr: '0x10000000', pages: 4, kind: 'anon' },
      { op: 'mmap', proc: 'P', addr: '0x20000000', pages: 4, kind: 'file', file: 'lib' },
      { op: 'write', proc: 'P', addr: '0x10000000' },
      { op: 'write', proc: 'P', addr: '0x10001000' },
      { op: 'read', proc: 'P', addr: '0x20000000' },
      { op: 'fork', proc: 'P', child: 'C' },
      { op: 'read', proc: 'C', addr: '0x20000000' },
      { op: 'write', proc: 'C', addr: '0x10001000' }
    ]
  })
  return { s, anon: b.results[3].result.pfn, file: b.results[5].result.pfn, copy: b.results[8].result.pfn }
}

async function compare (t: TapLike, app: FastifyInstance, s: TestSession, body: unknown, what: string): Promise<CompareReply> {
  const res = await call(app, s, 'POST', '/compare', body)
  const r = ok<CompareReply>(t, res, 200, what)
  return res.statusCode === 200 ? r : { match: false, mismatches: -1, diffs: [] }
}

const byField = (r: CompareReply): Map<string, Diff> => new Map(r.diffs.map((d) => [d.field, d]))
const addrOf = (v: unknown): bigint | undefined => typeof v === 'number' || (typeof v === 'string' && /^0x[0-9a-f]+$/i.test(v)) ? BigInt(v) : undefined

function expectDiff (t: TapLike, r: CompareReply, field: string, want: Partial<Diff>, what: string): void {
  const d = byField(r).get(field)
  t.ok(d !== undefined, `${what}: ${field} is listed (${JSON.stringify(r.diffs.map((x) => x.field))})`)
  if (d === undefined) return
  for (const [k, v] of Object.entries(want)) t.strictSame(d[k as keyof Diff], v, `${what}: ${field}.${k} is ${JSON.stringify(v)}`)
}

function expectAllOk (t: TapLike, r: CompareReply, fields: string[], what: string): void {
  t.equal(r.match, true, `${what}: match`)
  t.equal(r.mismatches, 0, `${what}: no mismatch`)
  t.strictSame(r.diffs.filter((d) => !d.ok), [], `${what}: every diff ok`)
  t.strictSame(r.diffs.map((d) => d.field).sort(), [...fields].sort(), `${what}: every expected field is listed`)
}

for (const kernel of KERNELS) {
  t.test(`POST /compare: frames (${kernel})`, async (t) => {
    const app = await buildTestApp(t)
    const w = await world(app, kernel)
    const { s } = w
    const before = await stateOf(app, s)
    const f = await req(app, s, 'GET', `/frames/${w.anon}`)
    t.equal(f.mapcount, 2, 'the anon page is shared by P and C')
    const counters = { mapcount: f.mapcount, refcount: f.refcount, kind: f.kind, flags: [...f.flags].reverse() }

    await t.test('counters, kind and flags (in any order) all equal: match', async (t) => {
      const r = await compare(t, app, s, { target: 'frame', pfn: w.anon, expect: counters }, 'counters')
      expectAllOk(t, r, ['mapcount', 'refcount', 'kind', 'flags'], 'counters')
      expectDiff(t, r, 'mapcount', { expected: f.mapcount, actual: f.mapcount, ok: true }, 'counters')
    })

    await t.test('nested fields (mapping.kind, mapping.anon)', async (t) => {
      const r = await compare(t, app, s, { target: 'frame', pfn: w.anon, expect: { mapping: { kind: 'anon_vma', anon: true } } }, 'nested')
      expectAllOk(t, r, ['mapping.kind', 'mapping.anon'], 'nested')
      const r2 = await compare(t, app, s, { target: 'frame', pfn: w.file, expect: { mapping: { kind: 'anon_vma' }, index: 0 } }, 'nested wrong')
      t.equal(r2.match, false)
      t.equal(r2.mismatches, 1)
      expectDiff(t, r2, 'mapping.kind', { expected: 'anon_vma', actual: 'address_space', ok: false }, 'nested wrong')
      expectDiff(t, r2, 'index', { expected: 0, actual: 0, ok: true }, 'nested wrong')
    })

    await t.test('the mapping set of the rmap walk, all equal: match', async (t) => {
      const mappings = [{ pid: 2, addr: '0x10000000' }, { pid: 1, addr: 0x10000000 }]
      const r = await compare(t, app, s, { target: 'frame', pfn: w.anon, expect: { ...counters, mappings } }, 'with mappings')
      expectAllOk(t, r, ['mapcount', 'refcount', 'kind', 'flags', 'mappings[1@0x10000000]', 'mappings[2@0x10000000]'], 'with mappings')
      expectDiff(t, r, 'mappings[1@0x10000000]', { expected: 'mapped', actual: 'mapped', ok: true }, 'with mappings')
      const rf = await compare(t, app, s, { target: 'frame', pfn: w.file, expect: { kind: 'file', mapcount: 2, mappings: [{ pid: 1, addr: '0x20000000' }, { pid: 2, addr: '0x20000000' }] } }, 'file page')
      expectAllOk(t, rf, ['kind', 'mapcount', 'mappings[1@0x20000000]', 'mappings[2@0x20000000]'], 'file page')
    })

    await t.test('wrong counters, kind, flags; missing and unexpected mappings: each listed', async (t) => {
      const expect = {
        mapcount: 3,
        refcount: f.refcount + 5,
        kind: 'file',
        flags: ['dirty'],
        mappings: [{ pid: 1, addr: '0x10000000' }, { pid: 1, addr: '0x10005000' }]
      }
      const r = await compare(t, app, s, { target: 'frame', pfn: w.anon, expect }, 'wrong')
      t.equal(r.match, false, 'no match')
      t.equal(r.mismatches, 6, 'six mismatches')
      t.equal(r.mismatches, r.diffs.filter((d) => !d.ok).length, 'mismatches counts the diffs not ok')
      expectDiff(t, r, 'mapcount', { expected: 3, actual: 2, ok: false }, 'wrong')
      expectDiff(t, r, 'refcount', { expected: f.refcount + 5, actual: f.refcount, ok: false }, 'wrong')
      expectDiff(t, r, 'kind', { expected: 'file', actual: 'anon', ok: false }, 'wrong')
      expectDiff(t, r, 'flags', { expected: ['dirty'], actual: f.flags, ok: false }, 'wrong')
      expectDiff(t, r, 'mappings[1@0x10000000]', { expected: 'mapped', actual: 'mapped', ok: true }, 'wrong')
      expectDiff(t, r, 'mappings[1@0x10005000]', { expected: 'mapped', actual: 'missing', ok: false }, 'a missing mapping')
      expectDiff(t, r, 'mappings[2@0x10000000]', { expected: 'absent', actual: 'mapped', ok: false }, 'an unexpected mapping')
    })

    await t.test('an empty mapping set: every real mapping is unexpected', async (t) => {
      const r = await compare(t, app, s, { target: 'frame', pfn: w.copy, expect: { mappings: [] } }, 'empty')
      t.equal(r.match, false)
      t.equal(r.mismatches, 1)
      expectDiff(t, r, 'mappings[2@0x10001000]', { expected: 'absent', actual: 'mapped', ok: false }, 'empty')
    })

    await t.test('a field the frame does not have', async (t) => {
      const r = await compare(t, app, s, { target: 'frame', pfn: w.anon, expect: { color: 'blue' } }, 'unknown field')
      t.equal(r.match, false)
      expectDiff(t, r, 'color', { expected: 'blue', actual: null, ok: false }, 'unknown field')
    })

    await t.test('404 for an unknown pfn', async (t) => {
      const e = expectError(t, await call(app, s, 'POST', '/compare', { target: 'frame', pfn: 999999, expect: { mapcount: 1 } }), 404, 'not_found')
      t.match(e.message, /999999/)
    })

    const after = await stateOf(app, s)
    t.equal(after.snapshot, before.snapshot, 'comparing changed nothing')
    t.equal(after.journal, before.journal)
    t.equal(after.events, before.events)
  })

  t.test(`POST /compare: PTEs (${kernel})`, async (t) => {
    const app = await buildTestApp(t)
    const w = await world(app, kernel)
    const { s } = w

    const r = await compare(t, app, s, { target: 'pte', pid: 1, addr: '0x10000000', expect: { present: true, writable: false, pfn: w.anon } }, 'shared after fork')
    expectAllOk(t, r, ['pte.present', 'pte.writable', 'pte.pfn'], 'shared after fork')

    const r2 = await compare(t, app, s, { target: 'pte', pid: 2, addr: 0x10001000, expect: { present: true, writable: true, pfn: w.copy, kind: 'present' } }, "C's copy")
    expectAllOk(t, r2, ['pte.present', 'pte.writable', 'pte.pfn', 'pte.kind'], "C's copy")

    const r3 = await compare(t, app, s, { target: 'pte', pid: 1, addr: '0x10000000', expect: { present: false, writable: true, pfn: w.copy } }, 'wrong')
    t.equal(r3.match, false)
    t.equal(r3.mismatches, 3)
    expectDiff(t, r3, 'pte.present', { expected: false, actual: true, ok: false }, 'wrong')
    expectDiff(t, r3, 'pte.writable', { expected: true, actual: false, ok: false }, 'wrong')
    expectDiff(t, r3, 'pte.pfn', { expected: w.copy, actual: w.anon, ok: false }, 'wrong')

    const r4 = await compare(t, app, s, { target: 'pte', pid: 1, addr: '0x10003000', expect: { kind: 'none' } }, 'an empty PTE')
    expectAllOk(t, r4, ['pte.kind'], 'an empty PTE')
    const r5 = await compare(t, app, s, { target: 'pte', pid: 1, addr: '0x10003000', expect: { present: true, pfn: 4101 } }, 'an empty PTE expected present')
    t.equal(r5.match, false)
    expectDiff(t, r5, 'pte.present', { expected: true, actual: null, ok: false }, 'an empty PTE expected present')
    expectDiff(t, r5, 'pte.pfn', { expected: 4101, actual: null, ok: false }, 'an empty PTE expected present')

    expectError(t, await call(app, s, 'POST', '/compare', { target: 'pte', pid: 999, addr: '0x10000000', expect: { present: true } }), 404, 'not_found', 'unknown pid')
  })

  t.test(`POST /compare: processes (${kernel})`, async (t) => {
    const app = await buildTestApp(t)
    const w = await world(app, kernel)
    const { s } = w
    const p = await req(app, s, 'GET', '/processes/1')
    t.equal(p.vmaList.length, 2)
    const vmas = [
      { start: '0x20000000', end: '0x20004000', prot: 'rw', file: 'lib', shared: false },
      { start: 0x10000000, end: '0x10004000', prot: 'rw', file: null, pages: 4 }
    ]
    // The session kernel's own counters: 6.18 anon/file/shmem/swap, 2.6.11 rss and anon_rss.
    const [anonKey, fileKey] = kernel === '6.18' ? ['anon', 'file'] : ['anon_rss', 'rss']
    const r = await compare(t, app, s, { target: 'process', pid: 1, expect: { vmas, rss: p.rss } }, 'all equal')
    expectAllOk(t, r, [
      'vmas[0x10000000].start', 'vmas[0x10000000].end', 'vmas[0x10000000].prot', 'vmas[0x10000000].file', 'vmas[0x10000000].pages',
      'vmas[0x20000000].start', 'vmas[0x20000000].end', 'vmas[0x20000000].prot', 'vmas[0x20000000].file', 'vmas[0x20000000].shared',
      ...Object.keys(p.rss).map((k) => `rss.${k}`)
    ], 'all equal')

    const wrong = {
      vmas: [
        { start: '0x10000000', end: '0x10008000', prot: 'r' },
        { start: '0x30000000', end: '0x30001000' }
      ],
      rss: { [anonKey]: p.rss[anonKey] + 1, [fileKey]: p.rss[fileKey] }
    }
    const r2 = await compare(t, app, s, { target: 'process', pid: 1, expect: wrong }, 'wrong')
    t.equal(r2.match, false)
    t.equal(r2.mismatches, 5, `end, prot, a missing VMA, an unexpected VMA, rss.${anonKey}`)
    const end = byField(r2).get('vmas[0x10000000].end')
    t.equal(end?.ok, false, 'the wrong end is listed')
    t.equal(addrOf(end?.expected), 0x10008000n, 'with the expected end')
    t.equal(addrOf(end?.actual), 0x10004000n, 'and the actual end')
    expectDiff(t, r2, 'vmas[0x10000000].prot', { expected: 'r', actual: 'rw', ok: false }, 'wrong')
    expectDiff(t, r2, 'vmas[0x30000000]', { expected: 'present', actual: 'missing', ok: false }, 'a missing VMA')
    expectDiff(t, r2, 'vmas[0x20000000]', { expected: 'absent', actual: 'present', ok: false }, 'an unexpected VMA')
    expectDiff(t, r2, `rss.${anonKey}`, { expected: p.rss[anonKey] + 1, actual: p.rss[anonKey], ok: false }, 'wrong')
    expectDiff(t, r2, `rss.${fileKey}`, { expected: p.rss[fileKey], actual: p.rss[fileKey], ok: true }, 'wrong')

    const r3 = await compare(t, app, s, { target: 'process', pid: 2, expect: { rss: { [anonKey]: p.rss[anonKey] } } }, 'rss only')
    expectAllOk(t, r3, [`rss.${anonKey}`], 'rss only')
    const r4 = await compare(t, app, s, { target: 'process', pid: 2, expect: {} }, 'nothing expected')
    expectAllOk(t, r4, [], 'nothing expected')

    expectError(t, await call(app, s, 'POST', '/compare', { target: 'process', pid: 77, expect: { rss: { anon: 0 } } }), 404, 'not_found', 'unknown pid')
  })
}

t.test('POST /compare: a malformed body is a 400 naming the field', async (t) => {
  const app = await buildTestApp(t)
  const w = await world(app, '6.18')
  const { s } = w
  const cases: Array<[unknown, string[]]> = [
    [{}, ['body.target']],
    [{ target: 'vma', pid: 1, expect: {} }, ['body.target']],
    [{ target: 'frame', pfn: -1, expect: {} }, ['body.pfn']],
    [{ target: 'frame', pfn: 'x', expect: {} }, ['body.pfn']],
    [{ target: 'frame', pfn: w.anon }, ['body.expect']],
    [{ target: 'frame', pfn: w.anon, expect: [] }, ['body.expect']],
    [{ target: 'frame', pfn: w.anon, expect: {}, extra: 1 }, ['body']],
    [{ target: 'pte', pid: 1, expect: {} }, ['body.addr']],
    [{ target: 'pte', pid: 1, addr: 'nope', expect: {} }, ['body.addr']],
    [{ target: 'pte', pid: 0, addr: '0x1000', expect: {} }, ['body.pid']],
    [{ target: 'process', pid: 1, expect: { threads: 1 } }, ['body.expect']],
    [{ target: 'process', pid: 1, expect: { vmas: [{ end: '0x1000' }] } }, ['body.expect.vmas.0.start']],
    [{ target: 'process', pid: 1, expect: { rss: { anon: 'many' } } }, ['body.expect.rss.anon']]
  ]
  for (const [body, fields] of cases) expectValidation(t, await call(app, s, 'POST', '/compare', body), fields, JSON.stringify(body))
  const notJson = await app.inject({ method: 'POST', url: `${s.base}/compare`, headers: { ...s.headers, 'content-type': 'application/json' }, payload: '{"target": "frame",' })
  expectError(t, notJson, 400, undefined, 'not JSON')
})
