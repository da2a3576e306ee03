/**
 * Every answer key against an independent path: each exercise's setup is replayed through POST /ops
 * in a session of its kernel, and each answer is read back through the ordinary routes (translate,
 * rmap, frames, files, processes, ptes, access) — never through the generator's engine. Every topic
 * x both kernels x 50 seeds.
 */
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, call, createSession, type TestSession } from '../helper.js'
import { req } from './api-helpers.js'
import { opsOk } from './grading-helpers.js'
import { generateExercise, TOPIC_NAMES, type Exercise, type ExerciseSpec, type Question } from '../../src/grading/exercises/index.js'
import type { Op } from '../../src/sim/index.js'

const SEEDS = 50
const PAGE = 4096
const hex = (n: number): string => '0x' + n.toString(16)

/** Sessions of the exercise being checked: ended after it (the server caps how many are live). */
const open: TestSession[] = []

async function setupSession (app: FastifyInstance, e: Exercise, extra: Op[] = []): Promise<TestSession> {
  const s = await createSession(app, e.spec.kernel)
  open.push(s)
  await opsOk(app, s, { ops: [...e.setup.ops, ...extra] as never })
  return s
}

async function pfnAt (app: FastifyInstance, s: TestSession, pid: number, addr: string): Promise<number | null> {
  return (await req<{ pfn: number | null }>(app, s, 'GET', `/processes/${pid}/translate?addr=${addr}`)).pfn
}

async function mappings (app: FastifyInstance, s: TestSession, pfn: number): Promise<Array<{ pid: number, addr: string }>> {
  return (await req<{ mappings: Array<{ pid: number, addr: string }> }>(app, s, 'GET', `/frames/${pfn}/rmap`)).mappings.map((m) => ({ pid: m.pid, addr: m.addr }))
}

async function visited (app: FastifyInstance, s: TestSession, pfn: number): Promise<number> {
  return (await req<{ trace: Array<{ step: string }> }>(app, s, 'GET', `/frames/${pfn}/rmap?trace=true`)).trace.filter((x) => x.step === 'vma').length
}

async function filePfn (app: FastifyInstance, s: TestSession, file: string, index: number): Promise<number> {
  const f = await req<{ cache: Array<{ index: number, pfn: number }> }>(app, s, 'GET', `/files/${file}`)
  const c = f.cache.find((x) => x.index === index)
  if (c === undefined) throw new Error(`${file}[${index}] is not cached`)
  return c.pfn
}

async function allPtes (app: FastifyInstance, s: TestSession, pid: number, from?: string, to?: string): Promise<Array<{ addr: string, pte: { kind: string } }>> {
  const out: Array<{ addr: string, pte: { kind: string } }> = []
  let next: string | null = from ?? '0x0'
  while (next !== null) {
    const page: { entries: Array<{ addr: string, pte: { kind: string } }>, next: number | string | null } = await req(app, s, 'GET', `/processes/${pid}/ptes?from=${next}${to !== undefined ? `&to=${to}` : ''}&limit=512`)
    out.push(...page.entries)
    next = page.next === null ? null : typeof page.next === 'number' ? hex(page.next) : page.next
  }
  return out
}

/** An access through the route: its fault path, or the signal's path name when it dies. */
async function accessPath (app: FastifyInstance, s: TestSession, op: Op): Promise<{ path: string, pfn?: number }> {
  const o = op as { op: 'read' | 'write' | 'exec', pid: number, addr: string }
  const res = await call(app, s, 'POST', `/processes/${o.pid}/access`, { addr: o.addr, op: o.op })
  const body = res.json()
  if (res.statusCode === 422) return { path: body.error.code === 'bus_error' ? 'sigbus' : 'sigsegv' }
  return { path: body.path, pfn: body.pfn }
}

/** The state an inverse question shows, read over HTTP, in the words the question uses. */
async function describe (app: FastifyInstance, s: TestSession, pages: number): Promise<string> {
  const list = await req<{ processes: Array<{ pid: number, name: string | null }> }>(app, s, 'GET', '/processes')
  const lines: string[] = []
  for (const p of list.processes) {
    const info = await req<{ vmaList: Array<{ start: string, end: string, prot: string }> }>(app, s, 'GET', `/processes/${p.pid}`)
    const maps: string[] = []
    for (let i = 0; i < pages; i++) {
      const pfn = await pfnAt(app, s, p.pid, hex(0x10000000 + i * PAGE))
      if (pfn === null) { maps.push('-'); continue }
      const f = await req<{ kind: string, mapcount: number }>(app, s, 'GET', `/frames/${pfn}`)
      maps.push(f.kind === 'zero' ? 'z' : String(f.mapcount))
    }
    const name = p.name === 'N' ? 'new child' : (p.name ?? `pid ${p.pid}`)
    lines.push(`${name} (pid ${p.pid}): VMAs ${info.vmaList.map((v) => `[${v.start}, ${v.end}) ${v.prot}`).join(' ')}; mapcounts of the pages it maps in the region: ${maps.join(' ')}`)
  }
  return lines.join('\n')
}

/** The answer to `q`, read through the routes of session `s` (which holds the setup). */
async function answerOverHttp (app: FastifyInstance, s: TestSession, e: Exercise, q: Question): Promise<unknown> {
  const a = q.about
  const topic = e.spec.topic
  if (topic === 'inverse') {
    const pages = (e.setup.ops.find((o) => o.op === 'mmap') as { pages: number }).pages
    const shown = q.prompt.split('One more operation leaves it like this:\n')[1].split('\nWhich operation was it?')[0]
    const hits: number[] = []
    for (const [i, op] of (a.choices ?? []).entries()) {
      const other = await setupSession(app, e, [op])
      if (await describe(app, other, pages) === shown) hits.push(i)
    }
    return hits.length === 1 ? hits[0] : `ambiguous: ${hits.join(',')}`
  }
  if (q.kind === 'mapping-set') {
    const pfn = a.file !== undefined ? await filePfn(app, s, a.file, a.index as number) : await pfnAt(app, s, a.pid as number, a.addr as string)
    return await mappings(app, s, pfn as number)
  }
  if (topic === 'anon-walk' && q.id === 'q2') return await visited(app, s, await pfnAt(app, s, a.pid as number, a.addr as string) as number)
  if (topic === 'anon-walk' && q.id === 'q3' && e.spec.kernel === '2.6.11') {
    const tr = await req<{ trace: Array<{ step: string, pid?: number }> }>(app, s, 'GET', `/frames/${await pfnAt(app, s, a.pid as number, a.addr as string) as number}/rmap?trace=true`)
    return tr.trace.find((x) => x.step === 'vma')?.pid
  }
  if (topic === 'file-walk' && q.id === 'q2') return await visited(app, s, await filePfn(app, s, a.file as string, a.index as number))
  if (q.kind === 'number-set') {
    const info = await req<{ vmaList: Array<{ start: string, end: string, anonVma: number | null, anonVmaChain: number[] }> }>(app, s, 'GET', `/processes/${a.pid as number}`)
    const addr = Number(a.addr)
    const v = info.vmaList.find((x) => Number(x.start) <= addr && addr < Number(x.end))
    return e.spec.kernel === '2.6.11' ? [v?.anonVma] : v?.anonVmaChain
  }
  if (topic === 'address') {
    const info = await req<{ vmaList: Array<{ start: string, end: string, pgoff: number, file: string | null }> }>(app, s, 'GET', `/processes/${a.pid as number}`)
    const index = a.index as number
    const v = info.vmaList.find((x) => x.file === a.file && x.pgoff <= index && index < x.pgoff + (Number(x.end) - Number(x.start)) / PAGE)
    if (v === undefined) return null
    const addr = hex(Number(v.start) + (index - v.pgoff) * PAGE)
    // And the page really is there: a read maps the page-cache page of that index.
    const r = await accessPath(app, s, { op: 'read', pid: a.pid as number, addr } as Op)
    const f = await req<{ index: number, mapping: { name?: string } }>(app, s, 'GET', `/frames/${r.pfn as number}`)
    return f.index === index && f.mapping.name === a.file ? addr : `mismatch at ${addr}`
  }
  if (topic === 'fork-cow' && q.id === 'q1') return (await accessPath(app, s, a.op as Op)).path
  if (topic === 'fork-cow' && q.id === 'q3') {
    const mine = await pfnAt(app, s, a.pid as number, a.addr as string)
    const theirs = await pfnAt(app, s, e.processes.P, a.addr as string)
    if (mine === null) return 3
    if ((await req<{ kind: string }>(app, s, 'GET', `/frames/${mine}`)).kind === 'zero') return 2
    return mine === theirs ? 0 : 1
  }
  if (topic === 'fork-cow' && q.id === 'q2') return (await allPtes(app, s, a.pid as number, a.range?.[0], a.range?.[1])).filter((x) => x.pte.kind === 'present').length
  if (topic === 'struct-page') {
    const f = await req<{ _count: number, _mapcount: number, index: number, mapping: { anon: boolean } }>(app, s, 'GET', `/frames/${await pfnAt(app, s, a.pid as number, a.addr as string) as number}`)
    return { _count: f._count, _mapcount: f._mapcount, index: f.index, anon: f.mapping.anon ? 1 : 0 }
  }
  if (topic === 'page-walk') {
    const tr = await req<{ levels: Array<{ level: string, index: number, pte?: { kind: string, writable?: boolean } }> }>(app, s, 'GET', `/processes/${a.pid as number}/translate?addr=${a.addr as string}`)
    const idx = (l: string): number | null => tr.levels.find((x) => x.level === l)?.index ?? null
    // A level missing from the walk (no table yet) still has its index: the address bits.
    const addr = Number(a.addr)
    const bits = { pgd: Math.floor(addr / 2 ** 39) % 512, pud: Math.floor(addr / 2 ** 30) % 512, pmd: Math.floor(addr / 2 ** 21) % 512, pte: Math.floor(addr / 2 ** 12) % 512 }
    for (const l of ['pgd', 'pud', 'pmd', 'pte'] as const) { const i = idx(l); if (i !== null && i !== bits[l]) return `level ${l} index ${i}` }
    const pte = tr.levels.find((x) => x.level === 'pte')?.pte
    const present = pte?.kind === 'present' ? 1 : 0
    return { ...bits, present, writable: present === 1 && pte?.writable === true ? 1 : 0 }
  }
  if (topic === 'swap') {
    if (q.id === 'q1') {
      const list = await req<{ processes: Array<{ pid: number }> }>(app, s, 'GET', '/processes')
      let n = 0
      for (const p of list.processes) n += (await allPtes(app, s, p.pid)).filter((x) => x.pte.kind === 'swap').length
      return n
    }
    const f = await req<{ mapcount: number, refcount: number }>(app, s, 'GET', `/frames/${await pfnAt(app, s, a.pid as number, a.addr as string) as number}`)
    return q.id === 'q2' ? f.mapcount : f.refcount
  }
  throw new Error(`no independent path for ${topic} ${q.id}`)
}

for (const kernel of ['2.6.11', '6.18'] as const) {
  t.test(`answer keys agree with the routes (${kernel}, ${TOPIC_NAMES.length} topics x ${SEEDS} seeds)`, async (t) => {
    const app = await buildTestApp(t)
    let checked = 0
    for (const topic of TOPIC_NAMES) {
      for (let i = 0; i < SEEDS; i++) {
        const spec: ExerciseSpec = { topic, kernel, seed: 5000 + i, difficulty: (1 + i % 3) as 1 | 2 | 3 }
        const { exercise, key } = generateExercise(spec)
        const s = await setupSession(app, exercise)
        // Questions that change the state (an access) come last, each in its own session.
        for (const q of exercise.questions) {
          const mutates = q.about.op !== undefined || topic === 'address'
          const session = mutates ? await setupSession(app, exercise) : s
          const got = await answerOverHttp(app, session, exercise, q)
          if (JSON.stringify(got) !== JSON.stringify(key.answers[q.id].answer)) t.fail(`${exercise.id} ${q.id}: key ${JSON.stringify(key.answers[q.id].answer)}, routes ${JSON.stringify(got)}`)
          else checked++
        }
        for (const x of open.splice(0)) await call(app, x, 'DELETE', '')
      }
    }
    t.ok(checked >= TOPIC_NAMES.length * SEEDS, `${checked} answers checked`)
  })
}
