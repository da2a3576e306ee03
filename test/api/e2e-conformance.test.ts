import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, call, createSession, type TestSession } from '../helper.js'
import { compareTruth, type Scenario, type ScenarioOp, type Truth } from '../../src/sim/scenario.js'
import { groupProbes } from '../../src/sim/index.js'
import { truthOverHttp } from './grading-helpers.js'
import { jsonOf, type TapLike } from './api-helpers.js'

/**
 * The Linux 6.18 conformance scenarios driven purely over HTTP: a session with the 6.18 model, the
 * files, every op as its route (processes by name -> pid from the replies), then the truth is built
 * from GET /processes/:pid, /processes/:pid/ptes, /frames/:pfn and /frames/:pfn/rmap and compared
 * with what Linux did, by the rules of the conformance README (compareTruth). No engine state is
 * read directly.
 */

const root = join(import.meta.dirname, '..', 'fixtures', 'conformance')
const PROC_NAME = /^[A-Za-z0-9_.-]{1,64}$/

interface Run {
  order: string[]
  pids: Map<string, number>
  probes: Map<string, number | null>
}

class OpFailed extends Error {}

async function expectStatus (app: FastifyInstance, s: TestSession, method: 'GET' | 'POST', path: string, body: unknown, status: number, what: string): Promise<any> {
  const res = await call(app, s, method, path, body)
  if (res.statusCode !== status) throw new OpFailed(`${what}: ${method} ${path} ${JSON.stringify(body)} -> ${res.statusCode} ${res.body.slice(0, 300)}`)
  return jsonOf(res)
}

/** The conformance scenarios name every process (proc, child) and give every address. */
type ConformanceOp = ScenarioOp & { proc: string, child: string, addr: string | number, newAddr: string | number }

async function applyOp (app: FastifyInstance, s: TestSession, scenarioOp: ScenarioOp, run: Run, what: string): Promise<void> {
  const op = scenarioOp as ConformanceOp
  const pidOf = (name: string): number => {
    const pid = run.pids.get(name)
    if (pid === undefined) throw new OpFailed(`${what}: no live process named ${name}`)
    return pid
  }
  switch (op.op) {
    case 'spawn': {
      const p = await expectStatus(app, s, 'POST', '/processes', PROC_NAME.test(op.proc) ? { name: op.proc } : {}, 201, what)
      run.pids.set(op.proc, p.pid)
      run.order.push(op.proc)
      return
    }
    case 'fork': {
      const c = await expectStatus(app, s, 'POST', `/processes/${pidOf(op.proc)}/fork`, PROC_NAME.test(op.child) ? { name: op.child } : {}, 201, what)
      if (c.parent !== pidOf(op.proc)) throw new OpFailed(`${what}: the child's parent is ${String(c.parent)}`)
      run.pids.set(op.child, c.pid)
      run.order.push(op.child)
      return
    }
    case 'exit':
      await expectStatus(app, s, 'POST', `/processes/${pidOf(op.proc)}/exit`, undefined, 200, what)
      run.pids.delete(op.proc)
      run.order.splice(run.order.indexOf(op.proc), 1)
      return
    case 'mmap': {
      const body: Record<string, unknown> = { addr: op.addr, fixed: 'noreplace', pages: op.pages, prot: op.prot ?? 'rw', shared: op.shared ?? false }
      if (op.kind === 'file') { body.file = op.file; body.offset = op.offset ?? 0 }
      const v = await expectStatus(app, s, 'POST', `/processes/${pidOf(op.proc)}/mmap`, body, 201, what)
      // The reply is the VMA now covering the range: the new one, or a neighbour it merged into.
      const [lo, hi] = [BigInt(op.addr), BigInt(op.addr) + BigInt(op.pages * 4096)]
      if (BigInt(v.start) > lo || BigInt(v.end) < hi) throw new OpFailed(`${what}: mapped at [${String(v.start)}, ${String(v.end)}), which does not cover ${String(op.addr)} + ${op.pages} pages`)
      return
    }
    case 'read':
    case 'write':
      await expectStatus(app, s, 'POST', `/processes/${pidOf(op.proc)}/access`, { addr: op.addr, op: op.op }, 200, what)
      return
    case 'munmap':
      await expectStatus(app, s, 'POST', `/processes/${pidOf(op.proc)}/munmap`, { addr: op.addr, pages: op.pages }, 200, what)
      return
    case 'dontneed':
    case 'pageout':
    case 'free':
    case 'dontfork':
    case 'dofork':
    case 'wipeonfork':
    case 'keeponfork':
      await expectStatus(app, s, 'POST', `/processes/${pidOf(op.proc)}/madvise`, { addr: op.addr, pages: op.pages, advice: op.op }, 200, what)
      return
    case 'populate':
      await expectStatus(app, s, 'POST', `/processes/${pidOf(op.proc)}/madvise`, { addr: op.addr, pages: op.pages, advice: op.write === true ? 'populate_write' : 'populate_read' }, 200, what)
      return
    case 'mlock':
    case 'munlock':
      await expectStatus(app, s, 'POST', `/processes/${pidOf(op.proc)}/${op.op}`, { addr: op.addr, pages: op.pages }, 200, what)
      return
    case 'mprotect':
      await expectStatus(app, s, 'POST', `/processes/${pidOf(op.proc)}/mprotect`, { addr: op.addr, pages: op.pages, prot: op.prot }, 200, what)
      return
    case 'mremap': {
      const r = await expectStatus(app, s, 'POST', `/processes/${pidOf(op.proc)}/mremap`, { addr: op.addr, pages: op.pages, newAddr: op.newAddr, newPages: op.newPages }, 200, what)
      if (BigInt(r.addr) !== BigInt(op.newAddr)) throw new OpFailed(`${what}: moved to ${String(r.addr)}, not ${String(op.newAddr)}`)
      return
    }
    case 'probe': {
      const addr = typeof op.addr === 'number' ? '0x' + op.addr.toString(16) : op.addr
      const tr = await expectStatus(app, s, 'GET', `/processes/${pidOf(op.proc)}/translate?addr=${addr}`, undefined, 200, what)
      run.probes.set(op.as, tr.pfn)
      return
    }
    default:
      throw new OpFailed(`${what}: unknown op ${JSON.stringify(op)}`)
  }
}

/** The truth of the session, in the oracle's format, from HTTP replies only (grading-helpers.ts). */
async function truthOfRun (app: FastifyInstance, s: TestSession, run: Run, window: [number, number]): Promise<Truth> {
  return await truthOverHttp(app, s, Object.fromEntries(run.pids), groupProbes(run.probes), window)
}

async function runOverHttp (t: TapLike, app: FastifyInstance, scenario: Scenario, truth: Truth): Promise<void> {
  const s = await createSession(app, '6.18')
  const summary = jsonOf(await call(app, s, 'GET', '/')) as { kernel: string }
  t.equal(summary.kernel, '6.18')
  for (const [name, f] of Object.entries(scenario.files ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const res = await call(app, s, 'POST', '/files', { name, pages: f.pages })
    t.equal(res.statusCode, 201, `file ${name}`)
  }
  const run: Run = { order: [], pids: new Map(), probes: new Map() }
  let failed: string | undefined
  for (const [i, op] of scenario.ops.entries()) {
    try {
      await applyOp(app, s, op, run, `op ${i} (${op.op})`)
    } catch (err) {
      if (!(err instanceof OpFailed)) throw err
      failed = err.message
      break
    }
  }
  t.equal(failed, undefined, 'every op succeeds over HTTP')
  if (failed !== undefined) return
  const actual = await truthOfRun(app, s, run, scenario.window ?? [0x10000000, 0x100000000000])
  t.same(compareTruth(truth, actual), [], 'the state read over HTTP matches Linux')
  const check = jsonOf(await call(app, s, 'GET', '/check')) as { ok: boolean, violations: string[] }
  t.same(check.violations, [], 'invariants hold')
  const del = await call(app, s, 'DELETE', '/')
  t.equal(del.statusCode, 204)
}

const sets: Array<[string, string, string, RegExp]> = [
  ['shared', 'scenarios', 'linux-6.18', /./],
  ['extra', 'extra/scenarios', 'extra/linux', /./],
  ['generated', 'generated/scenarios', 'generated/linux', /./],
  ['extended', 'extended/scenarios', 'extended/linux', /./]
]

for (const [set, scenDir, truthDir, pick] of sets) {
  t.test(`Linux 6.18 ground truth over HTTP: ${set}`, async (t) => {
    const app = await buildTestApp(t)
    const files = readdirSync(join(root, scenDir)).filter((f) => f.endsWith('.json') && pick.test(f)).sort()
    t.ok(files.length >= 3, `${files.length} scenarios`)
    for (const file of files) {
      const scenario = JSON.parse(readFileSync(join(root, scenDir, file), 'utf8')) as Scenario
      const truth = JSON.parse(readFileSync(join(root, truthDir, file), 'utf8')) as Truth
      await t.test(file, async (t) => { await runOverHttp(t, app, scenario, truth) })
    }
  })
}

t.test('the HTTP truth builder is not vacuous: a wrong state is caught', async (t) => {
  const app = await buildTestApp(t)
  const scenario = JSON.parse(readFileSync(join(root, 'scenarios', '03-child-write-copies.json'), 'utf8')) as Scenario
  const truth = JSON.parse(readFileSync(join(root, 'linux-6.18', '03-child-write-copies.json'), 'utf8')) as Truth
  const s = await createSession(app, '6.18')
  const run: Run = { order: [], pids: new Map(), probes: new Map() }
  // Everything but the child's write: the child still shares the parent's frame.
  for (const [i, op] of scenario.ops.entries()) {
    if (op.op === 'write' && op.proc === 'C') continue
    await applyOp(app, s, op, run, `op ${i}`)
  }
  const diffs = compareTruth(truth, await truthOfRun(app, s, run, [0x10000000, 0x100000000000]))
  t.ok(diffs.length > 0, `differences found: ${diffs.join('; ')}`)
})
