/**
 * Hand-written 2.6.11 scenarios (test/fixtures/linux-2.6.11): each fixture's description reasons its
 * expected results from the 2.6.11 source (its `source` lists the functions). They run in a 2.6.11
 * session through POST /ops, and are checked over HTTP: op results (partial match), frames and
 * processes with POST /compare (the grading route), PTEs, and the walks as the rmap trace shows them.
 */
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, createSession, type TestSession } from '../helper.js'
import { must, req } from './api-helpers.js'
import { opsOk, type BatchReply, type WireOp } from './grading-helpers.js'

type Step = [string, string]
type Expectation =
  | { kind: 'result', op: number, ok: boolean, result?: Record<string, unknown>, error?: Record<string, unknown>, walk?: Step[] }
  | { kind: 'walk', probe: string, steps: Step[], treeNodes?: Array<[number, number, string[]]> }
  | { kind: 'frame', probe: string, expect: Record<string, unknown> }
  | { kind: 'process', proc: string, expect: Record<string, unknown> }
  | { kind: 'pte', proc: string, addr: string, expect: Record<string, unknown> }

interface Fixture {
  name: string
  description: string
  source: string[]
  files?: Record<string, { pages: number }>
  mode?: 'atomic' | 'continue'
  ops: WireOp[]
  expect: Expectation[]
}

const dir = join(import.meta.dirname, '..', 'fixtures', 'linux-2.6.11')
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.json')).sort()

interface TraceStep { step: string, pid?: number, outcome?: string, treeNodes?: Array<{ radix: number, heap: number, vmaIds: number[] }> }

/** pid -> process name, from GET /processes (the names the ops gave). */
async function namesOf (app: FastifyInstance, s: TestSession): Promise<Map<number, string>> {
  const list = await req<{ processes: Array<{ pid: number, name: string | null }> }>(app, s, 'GET', '/processes')
  return new Map(list.processes.map((p) => [p.pid, p.name ?? String(p.pid)]))
}

/** The VMA steps of a walk as [process name, outcome]. */
const stepsOf = (trace: TraceStep[], names: Map<number, string>): Step[] =>
  trace.filter((x) => x.step === 'vma').map((x) => [names.get(x.pid as number) ?? String(x.pid), x.outcome as string])

t.test('the hand-written 2.6.11 scenarios hold over HTTP', async (t) => {
  t.ok(fixtures.length >= 5, 'there are scenarios')
  const app = await buildTestApp(t)
  for (const file of fixtures) {
    const fx = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Fixture
    t.test(fx.name, async (t) => {
      t.ok(fx.description.length > 100 && fx.source.length > 0, 'reasoned from named 2.6.11 functions')
      const s = await createSession(app, '2.6.11')
      const reply: BatchReply = await opsOk(app, s, { files: fx.files, mode: fx.mode ?? 'atomic', ops: fx.ops })
      const names = await namesOf(app, s)
      const pidOf = (name: string): number => {
        for (const [pid, n] of names) if (n === name) return pid
        throw new Error(`no process ${name}`)
      }
      const pfnOf = (probe: string): number => {
        const pfn = reply.probes.labels[probe]
        if (typeof pfn !== 'number') throw new Error(`probe ${probe} saw no frame`)
        return pfn
      }
      for (const e of fx.expect) {
        if (e.kind === 'result') {
          const r = reply.results[e.op]
          t.equal(r.ok, e.ok, `op ${e.op} (${r.op}) ${e.ok ? 'succeeds' : 'fails'}`)
          if (e.result !== undefined) t.match(r.result, e.result, `op ${e.op}: its result`)
          if (e.error !== undefined) t.match(r.error, e.error, `op ${e.op}: its error`)
          if (e.walk !== undefined) t.same(stepsOf((r.result as { trace: TraceStep[] }).trace, names), e.walk, `op ${e.op}: the walk it made`)
        } else if (e.kind === 'walk') {
          const rmap = await must<{ trace: TraceStep[] }>(t, app, s, 'GET', `/frames/${pfnOf(e.probe)}/rmap?trace=true`)
          t.same(stepsOf(rmap.trace, names), e.steps, `${e.probe}: the VMAs the walk visits, in order`)
          if (e.treeNodes !== undefined) {
            const obj = rmap.trace.find((x) => x.step === 'object')
            const vmaPid = new Map<number, number>()
            for (const p of names.keys()) {
              const info = await req<{ vmaList: Array<{ id: number }> }>(app, s, 'GET', `/processes/${p}`)
              for (const v of info.vmaList) vmaPid.set(v.id, p)
            }
            t.same(obj?.treeNodes?.map((n) => [n.radix, n.heap, n.vmaIds.map((id) => names.get(vmaPid.get(id) as number))]), e.treeNodes, `${e.probe}: the priority tree nodes`)
          }
        } else if (e.kind === 'frame') {
          const r = await must<{ match: boolean, diffs: unknown[] }>(t, app, s, 'POST', '/compare', { target: 'frame', pfn: pfnOf(e.probe), expect: e.expect })
          t.ok(r.match, `${e.probe}: the frame as expected`, { diffs: r.diffs })
        } else if (e.kind === 'process') {
          const r = await must<{ match: boolean, diffs: unknown[] }>(t, app, s, 'POST', '/compare', { target: 'process', pid: pidOf(e.proc), expect: e.expect })
          t.ok(r.match, `${e.proc}: the process as expected`, { diffs: r.diffs })
        } else {
          const r = await must<{ match: boolean, diffs: unknown[] }>(t, app, s, 'POST', '/compare', { target: 'pte', pid: pidOf(e.proc), addr: e.addr, expect: e.expect })
          t.ok(r.match, `${e.proc} ${e.addr}: the PTE as expected`, { diffs: r.diffs })
        }
      }
    })
  }
})
