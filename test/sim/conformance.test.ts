import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Simulator } from '../../src/sim/index.js'
import { compareTruth, runScenario, truthOf, type Scenario, type Truth } from '../../src/sim/scenario.js'

const root = join(import.meta.dirname, '..', 'fixtures', 'conformance')
const sets: Array<[string, string, string]> = [
  ['shared', 'scenarios', 'linux-6.18'],
  ['extra', 'extra/scenarios', 'extra/linux'],
  ['generated', 'generated/scenarios', 'generated/linux'],
  ['extended', 'extended/scenarios', 'extended/linux']
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
      // exit_mmap() of every process: zap_pte_range() frees each swap entry (free_swap_and_cache) and
      // free_swap_cache() takes every unmapped page out of the swap cache, so no slot is left in use.
      for (const p of sim.processes()) sim.exit({ pid: p.pid })
      const after = sim.stats()
      t.same({ slots: after.swapSlotsUsed, anon: after.framesByKind.anon ?? 0 }, { slots: 0, anon: 0 }, `${file}: after every process exits, no swap slot or anonymous page is left`)
    }
  })
}

t.test('rules 6-8 of the comparison catch a wrong VMA list, swap sharing or frame flag', async (t) => {
  const file = '27-adjacent-mmaps-merge.json'
  const scenario = JSON.parse(readFileSync(join(root, 'scenarios', file), 'utf8')) as Scenario
  const truth = JSON.parse(readFileSync(join(root, 'linux-6.18', file), 'utf8')) as Truth
  const sim = new Simulator({ version: '6.18' })
  const { order, probes } = runScenario(sim, scenario)
  const actual = truthOf(sim, order, probes, scenario.window)
  t.same(compareTruth(truth, actual), [])
  const split = structuredClone(actual)
  const first = split.vmas?.P[0]
  if (first === undefined) throw new Error('no VMA')
  split.vmas?.P.splice(0, 1, { ...first, end: '0x10010000' }, { ...first, start: '0x10010000' })
  t.match(compareTruth(truth, split), [/P VMAs: Linux \[0x1000e000-0x10014000 rw-p -@null/], 'a VMA split in two')
  const perms = structuredClone(actual)
  if (perms.vmas !== undefined) perms.vmas.P[1].perms = 'rw-p'
  t.match(compareTruth(truth, perms), [/P VMAs/], 'private where Linux has shared')
  const flagged = structuredClone(actual)
  flagged.frames[0].swapcache = true
  t.match(compareTruth(truth, flagged), [/swapcache true, Linux says false/])
  const withSwap: Truth = { ...structuredClone(truth), swap: { P: { '0x10010000': 'S0', '0x10011000': 'S0' } } }
  const otherSlots = { ...structuredClone(actual), swap: { P: { '0x10010000': 'S0', '0x10011000': 'S1' } } }
  t.match(compareTruth(withSwap, otherSlots).join('\n'), /does not correspond one to one/, 'two PTEs on one slot in Linux, two slots here')
  t.match(compareTruth(withSwap, actual).join('\n'), /Linux has swap entry S0, the simulator none/)
})
