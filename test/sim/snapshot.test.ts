import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Simulator, type SimEvent, type Snapshot } from '../../src/sim/index.js'
import { applyScenarioOp, runScenario, type Scenario } from '../../src/sim/scenario.js'

const dir = join(import.meta.dirname, '..', 'fixtures', 'conformance', 'generated', 'scenarios')
const scenarios = readdirSync(dir).filter((f) => f.endsWith('.json')).sort().slice(0, 30)
  .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Scenario)

/** A scenario run to its middle, snapshotted, then finished both on the original and on the restored copy. */
for (const kernel of ['2.6.11', '6.18'] as const) {
  t.test(`snapshot round trip mid-scenario (${kernel})`, async (t) => {
    for (const sc of scenarios) {
      const half = Math.floor(sc.ops.length / 2)
      const a = new Simulator({ version: kernel })
      const { probes } = runScenario(a, { ...sc, ops: sc.ops.slice(0, half) })
      const snap = a.snapshot()
      const text = JSON.stringify(snap)
      const b = Simulator.fromSnapshot(JSON.parse(text) as Snapshot)
      t.equal(JSON.stringify(b.snapshot()), text, `${sc.name}: restore then snapshot is lossless`)
      const evA: SimEvent[] = []; const evB: SimEvent[] = []
      a.subscribe((e) => evA.push(e)); b.subscribe((e) => evB.push(e))
      const probesB = new Map(probes)
      for (const op of sc.ops.slice(half)) {
        let ra: unknown; let rb: unknown
        try { applyScenarioOp(a, op, probes) } catch (e) { ra = (e as Error).message }
        try { applyScenarioOp(b, op, probesB) } catch (e) { rb = (e as Error).message }
        if (ra !== rb) { t.fail(`${sc.name}: ${op.op} differs: ${String(ra)} vs ${String(rb)}`); break }
      }
      t.equal(JSON.stringify(b.snapshot()), JSON.stringify(a.snapshot()), `${sc.name}: same state after the second half`)
      t.equal(JSON.stringify(evB), JSON.stringify(evA), `${sc.name}: same events after the second half`)
      t.same(b.check().violations, [], `${sc.name}: restored copy keeps every invariant`)
    }
  })
}

t.test('inconsistent snapshots are refused', async (t) => {
  const a = new Simulator({ version: '6.18' })
  runScenario(a, scenarios[0])
  const good = a.snapshot()
  const mutate = (fn: (s: Snapshot) => void): Snapshot => { const s = structuredClone(good); fn(s); return s }
  const cases: Array<[string, Snapshot]> = [
    ['a wrong format', mutate((s) => { (s as { format: string }).format = 'nope' })],
    ['another model', mutate((s) => { s.kernel = '2.6.11' })],
    ['a mapcount that disagrees with the PTEs', mutate((s) => { const p = s.frames.pages.find((x) => x[3] >= 0); if (p !== undefined) p[3] += 1 })],
    ['a PTE without a page table', mutate((s) => { s.processes[0]?.ptes.push([0x7000_0000_0000, 0x1005067]) })],
    ['an unknown anon_vma', mutate((s) => { const v = s.processes[0]?.vmas[0]; if (v !== undefined) v.anonVma = 999999 })],
    ['overlapping VMAs', mutate((s) => { const v = s.processes[0]?.vmas; if (v !== undefined && v.length > 1) v[1].start = v[0].start })],
    ['a duplicate frame', mutate((s) => { s.frames.pages.push(s.frames.pages[0]) })]
  ]
  for (const [what, snap] of cases) {
    t.throws(() => Simulator.fromSnapshot(snap), { code: 'invalid_argument' }, `refuses ${what}`)
  }
})
