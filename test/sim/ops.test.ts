import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Simulator, applyBatch, applyOp, type Op, type SimEvent, type Scenario } from '../../src/sim/index.js'

const dir = join(import.meta.dirname, '..', 'fixtures', 'conformance', 'generated', 'scenarios')
const allScenarios = readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
  .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Scenario)
const scenarios = allScenarios.slice(0, 20)

const clone = (sim: Simulator) => () => Simulator.fromSnapshot(sim.snapshot(), { verify: false })

function scenarioOps (sc: Scenario): Op[] {
  const files: Op[] = Object.entries(sc.files ?? {}).map(([name, f]) => ({ op: 'createFile', name, pages: f.pages }))
  return [...files, ...(sc.ops as Op[])]
}

for (const kernel of ['2.6.11', '6.18'] as const) {
  t.test(`journal replay gives the same state and events (${kernel})`, async (t) => {
    for (const sc of scenarios) {
      const a = new Simulator({ version: kernel })
      const evA: SimEvent[] = []
      a.subscribe((e) => evA.push(e))
      const r = applyBatch(a, scenarioOps(sc), 'continue', clone(a))
      t.equal(r.applied, true)
      // poke the rmap side too, so the journal holds those ops
      for (const f of a.frames({ kind: 'anon', limit: 3 }).frames) {
        a.referenced({ pfn: f.pfn })
        if (kernel === '6.18') a.migrate({ pfn: f.pfn }) // migration came in 2.6.16
      }
      for (const f of a.files()) a.writeback({ file: f.name })
      const b = new Simulator({ version: kernel })
      const evB: SimEvent[] = []
      b.subscribe((e) => evB.push(e))
      for (const op of JSON.parse(JSON.stringify(a.journal)) as Op[]) applyOp(b, op)
      t.equal(JSON.stringify(b.snapshot()), JSON.stringify(a.snapshot()), `${sc.name ?? ''}: same snapshot`)
      t.equal(JSON.stringify(evB), JSON.stringify(evA), `${sc.name ?? ''}: same events`)
      t.same(b.journal, a.journal, `${sc.name ?? ''}: same journal`)
    }
  })
}

t.test('atomic batches apply all or nothing', async (t) => {
  const sim = new Simulator({ version: '6.18' })
  sim.spawn({ name: 'P' })
  sim.mmap({ pid: sim.pidOf('P'), addr: 0x10000000, pages: 4 })
  const before = JSON.stringify(sim.snapshot())
  const events: SimEvent[] = []
  sim.subscribe((e) => events.push(e))
  const bad = applyBatch(sim, [
    { op: 'write', proc: 'P', addr: '0x10000000' },
    { op: 'fork', proc: 'P', child: 'C' },
    { op: 'write', proc: 'C', addr: '0x20000000' }
  ], 'atomic', clone(sim))
  t.equal(bad.applied, false)
  t.equal(bad.firstFailure?.index, 2)
  t.equal(bad.firstFailure?.error?.code, 'segfault')
  t.equal(JSON.stringify(sim.snapshot()), before, 'state untouched')
  t.equal(events.length, 0, 'no event emitted')
  t.equal(sim.journal.length, 2, 'journal untouched')

  const good = applyBatch(sim, [
    { op: 'write', proc: 'P', addr: '0x10000000' },
    { op: 'fork', proc: 'P', child: 'C' },
    { op: 'write', proc: 'C', addr: '0x10000000' },
    { op: 'probe', proc: 'P', addr: '0x10000000', as: 'p' },
    { op: 'probe', proc: 'C', addr: '0x10000000', as: 'c' }
  ], 'atomic', clone(sim))
  t.equal(good.applied, true)
  t.equal(good.failed, 0)
  t.same(good.probes.same, [['c'], ['p']], 'the child copied on write')
  t.ok(events.length > 0, 'events flowed once applied')
})

t.test('continue mode reports each failure and applies the rest', async (t) => {
  const sim = new Simulator({ version: '2.6.11' })
  const r = applyBatch(sim, [
    { op: 'spawn', name: 'A' },
    { op: 'mmap', proc: 'A', addr: '0x10000001', pages: 1 },
    { op: 'mmap', proc: 'A', addr: '0x10000000', pages: 1 },
    { op: 'exit', proc: 'nobody' },
    { op: 'write', proc: 'A', addr: '0x10000000' }
  ], 'continue', clone(sim))
  t.equal(r.applied, true)
  t.same(r.results.map((x) => x.ok), [true, false, true, false, true])
  t.equal(r.results[1].error?.code, 'invalid_argument')
  t.equal(r.results[3].error?.code, 'not_found')
  t.equal(r.failed, 2)
  t.equal(sim.stats().framesInUse > 0, true)
})

for (const kernel of ['2.6.11', '6.18'] as const) {
  t.test(`an atomic batch ends exactly where the same ops run in place end (${kernel})`, async (t) => {
    for (const sc of allScenarios) {
      const ops = scenarioOps(sc)
      // The scenario in chunks: atomic on one simulator, continue on the other; each chunk starts from
      // the state the previous atomic chunk left.
      const atomic = new Simulator({ version: kernel })
      const inPlace = new Simulator({ version: kernel })
      const evA: SimEvent[] = []
      const evB: SimEvent[] = []
      atomic.subscribe((e) => evA.push(e))
      inPlace.subscribe((e) => evB.push(e))
      atomic.tag = inPlace.tag = `req-${sc.name ?? ''}`
      for (let at = 0, chunk = 1; at < ops.length; at += chunk, chunk = chunk * 2 + 1) {
        const part = ops.slice(at, at + chunk)
        const b = applyBatch(inPlace, part, 'continue', clone(inPlace))
        if (b.failed > 0) {
          // A failing op: atomic must refuse the whole chunk and leave everything as it was.
          const before = JSON.stringify(atomic.snapshot())
          const events = evA.length
          const a = applyBatch(atomic, part, 'atomic', clone(atomic))
          t.equal(a.applied, false, `${sc.name ?? ''} ops ${at}..: refused`)
          t.equal(JSON.stringify(atomic.snapshot()), before, `${sc.name ?? ''} ops ${at}..: state untouched`)
          t.equal(evA.length, events, `${sc.name ?? ''} ops ${at}..: no events`)
          // Bring the in-place simulator's twin up to date without the failing ops.
          applyBatch(atomic, part.filter((_, i) => b.results[i].ok), 'atomic', clone(atomic))
          continue
        }
        const a = applyBatch(atomic, part, 'atomic', clone(atomic))
        t.strictSame(a.results, b.results, `${sc.name ?? ''} ops ${at}..${at + part.length - 1}: same results`)
        t.strictSame(a.probes, b.probes, `${sc.name ?? ''} ops ${at}..: same probes`)
      }
      t.equal(JSON.stringify(atomic.snapshot()), JSON.stringify(inPlace.snapshot()), `${sc.name ?? ''}: same state`)
      t.equal(JSON.stringify(evA), JSON.stringify(evB), `${sc.name ?? ''}: same events, numbered the same`)
      t.strictSame(atomic.journal, inPlace.journal, `${sc.name ?? ''}: same journal`)
      t.strictSame(atomic.check().violations, [], `${sc.name ?? ''}: invariants hold`)
    }
  })
}
