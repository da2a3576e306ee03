import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Rmap, rmapJson, rmapOut } from '../../schemas/frames.js'
import { Simulator, applyBatch, type Op, type Scenario } from '../../src/sim/index.js'

// rmapJson is the rmap route's hand-written reply writer: it must give exactly what the generic path
// (JSON.stringify of the schema-shaped reply) gives, for every frame of every generated scenario.
const dir = join(import.meta.dirname, '..', 'fixtures', 'conformance', 'generated', 'scenarios')
const scenarios = readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
  .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Scenario)

function scenarioOps (sc: Scenario): Op[] {
  const files: Op[] = Object.entries(sc.files ?? {}).map(([name, f]) => ({ op: 'createFile', name, pages: f.pages }))
  return [...files, ...(sc.ops as Op[])]
}

for (const kernel of ['2.6.11', '6.18'] as const) {
  t.test(`rmapJson writes what JSON.stringify(rmapOut) writes (${kernel})`, async (t) => {
    let frames = 0
    let mappings = 0
    let shared = 0
    for (const sc of scenarios) {
      const sim = new Simulator({ version: kernel })
      applyBatch(sim, scenarioOps(sc), 'continue', () => sim)
      const mismatches: number[] = []
      for (const f of sim.frames({ limit: 1024 }).frames) {
        for (const trace of [false, true]) {
          const r = sim.rmap(f.pfn, trace)
          const json = rmapJson(r)
          if (json !== JSON.stringify(rmapOut(r)) || !Rmap.safeParse(JSON.parse(json)).success) mismatches.push(f.pfn)
          if (!trace) { frames++; mappings += r.mappings.length; if (r.mappings.length > 1) shared++ }
        }
      }
      t.same(mismatches, [], `${sc.name ?? ''}: every frame's reply matches and fits the Rmap schema`)
    }
    // The comparison must have covered shared pages, not only empty replies.
    t.ok(mappings > 1000 && shared > 100, `${frames} frames, ${mappings} mappings, ${shared} shared pages compared`)
  })
}

t.test('a page shared by forks repeats its PTE values, written once each', async (t) => {
  const sim = new Simulator({ version: '6.18' })
  const pid = sim.spawn({ name: 'P' }).pid
  sim.mmap({ pid, addr: 0x10000000, pages: 1, prot: 'rw' })
  const pfn = (sim.write({ pid, addr: 0x10000000 }) as { pfn: number }).pfn
  for (let i = 0; i < 7; i++) sim.fork({ pid })
  const r = sim.rmap(pfn)
  t.equal(r.mappings.length, 8)
  const json = rmapJson(r)
  t.equal(json, JSON.stringify(rmapOut(r)))
  t.same(JSON.parse(json).mappings.map((m: { pid: number }) => m.pid), [1, 2, 3, 4, 5, 6, 7, 8])
})
