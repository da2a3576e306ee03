import { applyBatch, Simulator, type Op } from '../../src/sim/index.js'
import { DEFAULT_LIMITS, hex, PAGE, writeOps } from '../client.js'
import { runCannon } from '../cannon.js'
import type { HttpScenario } from '../types.js'
import type { Ctx } from './context.js'
import { ops200 } from './ops200.js'

/** The autocannon scenarios: (a) /health, (b,c) rmap walks, (d) faults, (e) fork, (f) 200-op batches. */

const json = (x: unknown): string => JSON.stringify(x)

/** (a) The stack's ceiling here: a small constant JSON reply, no session, no engine. */
export async function health (ctx: Ctx): Promise<HttpScenario> {
  return await runCannon({
    id: 'health',
    title: '(a) GET /health (baseline)',
    description: 'small constant JSON; no auth, no engine',
    url: ctx.server.url,
    path: '/health',
    connections: ctx.cfg.connections,
    duration: ctx.cfg.duration,
    check: (b) => b === '{"status":"ok"}'
  })
}

/** A session where one anonymous page is mapped by `sharers` processes (a parent and its forks). */
export async function sharedFrame (ctx: Ctx, sharers: number): Promise<{ path: string, headers: Record<string, string>, bodyLength: number, mappings: number }> {
  const s = await ctx.api.createSession('6.18', { ...DEFAULT_LIMITS, maxProcesses: Math.max(DEFAULT_LIMITS.maxProcesses, sharers + 16) })
  const setup: unknown[] = [
    { op: 'spawn', proc: 'P' },
    { op: 'mmap', proc: 'P', addr: hex(0x10000000), pages: 1, kind: 'anon' },
    { op: 'write', proc: 'P', addr: hex(0x10000000) }
  ]
  const first = await ctx.api.ops(s, setup)
  const pfn = first[0].results[2].result.pfn as number
  const forks: unknown[] = []
  for (let i = 1; i < sharers; i++) forks.push({ op: 'fork', proc: 'P' })
  if (forks.length > 0) await ctx.api.ops(s, forks)
  const path = `${s.base}/frames/${pfn}/rmap`
  const r = await ctx.api.request('GET', path, { session: s })
  const mappings = (r.json.mappings as unknown[]).length
  if (mappings !== sharers) throw new Error(`rmap of pfn ${pfn}: ${mappings} mappings, expected ${sharers}`)
  return { path, headers: s.headers, bodyLength: r.text.length, mappings }
}

/** (b) and (c): GET /frames/:pfn/rmap of an anonymous frame shared by `sharers` processes. */
export async function rmap (ctx: Ctx, sharers: number): Promise<HttpScenario> {
  const f = await sharedFrame(ctx, sharers)
  const r = await runCannon({
    id: sharers === 8 ? 'rmap8' : `rmap${sharers}`,
    title: `(${sharers === 8 ? 'b' : 'c'}) GET rmap, anon frame shared by ${sharers.toLocaleString('en-US')} processes`,
    description: `rmap_walk of one anonymous page mapped by a parent and ${sharers - 1} forks; ${f.mappings} mappings, ${(f.bodyLength / 1024).toFixed(1)} KiB reply`,
    url: ctx.server.url,
    path: f.path,
    headers: f.headers,
    connections: ctx.cfg.connections,
    duration: ctx.cfg.duration,
    check: (b) => b.length === f.bodyLength
  })
  r.extra.mappingsPerSec = r.rps * f.mappings
  r.extra.replyBytes = f.bodyLength
  return r
}

/**
 * (d) POST /processes/:pid/access, each request a write fault on a page never touched before (anon_alloc).
 * The mapping and the session's frame limit are sized from the baseline so they cannot run out.
 */
export async function access (ctx: Ctx, baselineRps: number): Promise<HttpScenario> {
  const warm = Math.min(2, ctx.cfg.duration / 2)
  const pages = Math.min((1 << 24) - (1 << 17), Math.max(1 << 16, Math.ceil(Math.max(baselineRps, 20000) * (ctx.cfg.duration + warm + 1) * 1.5)))
  const maxFrames = pages + Math.ceil(pages / 512) + 4096
  const s = await ctx.api.createSession('6.18', { ...DEFAULT_LIMITS, maxFrames })
  const base = 0x100000000
  const rep = await ctx.api.ops(s, [{ op: 'spawn', proc: 'P' }, { op: 'mmap', proc: 'P', addr: hex(base), pages, kind: 'anon' }])
  const pid = rep[0].processes.P
  let next = 0
  let exhausted = 0
  const r = await runCannon({
    id: 'access',
    title: '(d) POST access: write fault on an untouched page',
    description: `each request writes a new page of a ${pages.toLocaleString('en-US')}-page anonymous mapping (anon_alloc fault: frame, page tables, PTE, rmap)`,
    url: ctx.server.url,
    method: 'POST',
    path: `${s.base}/processes/${pid}/access`,
    headers: s.headers,
    connections: ctx.cfg.connections,
    duration: ctx.cfg.duration,
    warmup: warm,
    setupRequest: (req) => {
      if (next >= pages) exhausted++
      const i = next++ % pages
      req.body = `{"addr":"${hex(base + i * PAGE)}","op":"write"}`
      return req
    },
    check: (b) => b.includes('"path":"anon_alloc"')
  })
  const sum = await ctx.api.summary(s)
  r.extra.pagesMapped = pages
  r.extra.pagesTouched = next
  r.extra.anonFramesAfter = sum.counts.framesByKind.anon ?? 0
  if (exhausted > 0) r.notes.push(`the mapping ran out: ${exhausted} requests re-touched pages`)
  await ctx.api.deleteSession(s)
  return r
}

/** A session whose process P has `pages` resident (written) anonymous pages. */
async function residentParent (ctx: Ctx, pages: number): Promise<{ s: Awaited<ReturnType<Ctx['api']['createSession']>> }> {
  const s = await ctx.api.createSession('6.18')
  const base = 0x10000000
  await ctx.api.ops(s, [{ op: 'spawn', proc: 'P' }, { op: 'mmap', proc: 'P', addr: hex(base), pages, kind: 'anon' }, ...writeOps('P', base, pages)])
  return { s }
}

/** (e) fork + exit of a process with `pages` resident pages per request (POST /ops). */
export async function fork (ctx: Ctx, pages: number, mode: 'continue' | 'atomic'): Promise<HttpScenario> {
  const { s } = await residentParent(ctx, pages)
  const body = mode === 'atomic'
    ? json({ ops: [{ op: 'fork', proc: 'P', child: 'C' }, { op: 'exit', proc: 'C' }] })
    : json({ mode: 'continue', ops: [{ op: 'fork', proc: 'P', child: 'C' }, { op: 'exit', proc: 'C' }] })
  const r = await runCannon({
    id: mode === 'atomic' ? 'fork-atomic' : 'fork',
    title: mode === 'atomic' ? '(e′) POST /ops fork+exit, 4,096 pages, atomic' : `(e) POST /ops fork+exit, ${pages.toLocaleString('en-US')} resident pages`,
    description: mode === 'atomic'
      ? 'the same batch in the default atomic mode: the session is first cloned (snapshot + restore) for the dry run'
      : `[fork P→C, exit C] in mode "continue": dup_mmap + copy_page_range of ${pages} PTEs, then exit_mmap`,
    url: ctx.server.url,
    method: 'POST',
    path: `${s.base}/ops`,
    headers: s.headers,
    body,
    connections: ctx.cfg.connections,
    duration: ctx.cfg.duration,
    check: (b) => b.includes('"failed":0') && b.includes('"applied":true')
  })
  r.extra.ptesCopiedPerSec = r.rps * pages
  r.extra.residentPages = pages
  await ctx.api.deleteSession(s)
  return r
}

/** Checks on the engine itself that the 200-op scenario is valid and leaves nothing behind. */
function validateOps200 (ops: unknown[]): void {
  const sim = new Simulator({ version: '6.18' })
  for (let round = 0; round < 2; round++) {
    const r = applyBatch(sim, ops as Op[], 'atomic', () => Simulator.fromSnapshot(sim.snapshot(), { verify: false }))
    if (!r.applied || r.failed > 0) throw new Error(`the 200-op scenario fails on the engine: ${JSON.stringify(r.firstFailure ?? r.results.find((x) => !x.ok))}`)
  }
  const st = sim.stats()
  if (st.processes !== 0 || st.vmas !== 0) throw new Error(`the 200-op scenario leaves state behind: ${JSON.stringify(st)}`)
}

/** (f) a 200-op scenario per request (atomic, as a grader sends it); everything it made is gone at the end. */
export async function scenario200 (ctx: Ctx): Promise<HttpScenario> {
  const ops = ops200()
  validateOps200(ops)
  const s = await ctx.api.createSession('6.18')
  const r = await runCannon({
    id: 'ops200',
    title: '(f) POST /ops, 200-op scenario',
    description: 'spawn, mmap, 150 faults, 2 forks, mprotect, munmap, dontneed, exits: all it made is gone after (atomic mode)',
    url: ctx.server.url,
    method: 'POST',
    path: `${s.base}/ops`,
    headers: s.headers,
    body: json({ ops }),
    connections: ctx.cfg.connections,
    duration: ctx.cfg.duration,
    check: (b) => b.includes('"failed":0') && b.includes('"applied":true')
  })
  r.extra.scenariosPerSec = r.rps
  r.extra.opsPerSec = r.rps * 200
  const sum = await ctx.api.summary(s)
  r.extra.processesAfter = sum.counts.processes
  r.extra.framesInUseAfter = sum.counts.framesInUse
  await ctx.api.deleteSession(s)
  return r
}
