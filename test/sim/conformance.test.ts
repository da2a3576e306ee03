import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Simulator } from '../../src/sim/index.js'
import { compareTruth, runScenario, truthOf, type Scenario, type Truth } from '../../src/sim/scenario.js'

const root = join(import.meta.dirname, '..', 'fixtures', 'conformance')
const sets: Array<[string, string, string]> = [
  ['shared', 'scenarios', 'linux-6.18'],
  ['extra', 'extra/scenarios', 'extra/linux'],
  ['generated', 'generated/scenarios', 'generated/linux']
]

for (const [set, scenDir, truthDir] of sets) {
  t.test(`Linux 6.18 ground truth: ${set}`, async (t) => {
    const files = readdirSync(join(root, scenDir)).filter((f) => f.endsWith('.json')).sort()
    t.ok(files.length > 0, 'has scenarios')
    for (const file of files) {
      const scenario = JSON.parse(readFileSync(join(root, scenDir, file), 'utf8')) as Scenario
      const truth = JSON.parse(readFileSync(join(root, truthDir, file), 'utf8')) as Truth
      const sim = new Simulator({ version: '6.18' })
      const { order, probes } = runScenario(sim, scenario)
      const diffs = compareTruth(truth, truthOf(sim, order, probes, scenario.window))
      t.same(diffs, [], `${file} matches Linux`)
      const report = sim.check()
      t.same(report.violations, [], `${file}: invariants hold`)
    }
  })
}
