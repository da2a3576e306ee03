import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, call, createSession } from '../helper.js'
import { compareTruth, type Scenario, type Truth } from '../../src/sim/scenario.js'
import { jsonOf, type TapLike } from './api-helpers.js'
import { postOps, probeGroups, truthOverHttp, type BatchReply } from './grading-helpers.js'

/**
 * Every Linux 6.18 conformance scenario POSTed as is (the scenario file's JSON, unchanged) to /ops of
 * a fresh 6.18 session. The truth is then built from HTTP replies only — the `processes` map of the
 * /ops reply, GET /processes/:pid, /processes/:pid/ptes, /frames/:pfn, /frames/:pfn/rmap — and
 * compared with Linux's by the rules of the conformance README (compareTruth); the probes of the
 * /ops reply must group like Linux's.
 */

const root = join(import.meta.dirname, '..', 'fixtures', 'conformance')
const DEFAULT_WINDOW: [number, number] = [0x10000000, 0x100000000000]

async function runScenario (t: TapLike, app: FastifyInstance, text: string, truth: Truth): Promise<void> {
  const scenario = JSON.parse(text) as Scenario
  const s = await createSession(app, '6.18')
  const res = await app.inject({ method: 'POST', url: `${s.base}/ops`, headers: { ...s.headers, 'content-type': 'application/json' }, payload: text })
  t.equal(res.statusCode, 200, `the scenario is accepted as is and every op succeeds (${res.body.slice(0, 400)})`)
  if (res.statusCode !== 200) return
  const b = res.json() as BatchReply
  t.equal(b.applied, true)
  t.equal(b.failed, 0)
  t.equal(b.files.length, Object.keys(scenario.files ?? {}).length, 'one result per file')
  t.equal(b.results.length, scenario.ops.length, 'one result per op')
  t.same(Object.keys(b.processes).sort(), [...truth.processes].sort(), 'the live processes of the reply are Linux\'s')
  t.equal(probeGroups(b.probes), probeGroups(truth.probes), 'the /ops probes group like Linux\'s')
  const labels = new Set(scenario.ops.filter((o) => o.op === 'probe').map((o) => (o as { as: string }).as))
  t.same(Object.keys(b.probes.labels).sort(), [...labels].sort(), 'probes.labels has every label')
  const actual = await truthOverHttp(app, s, b.processes, b.probes, scenario.window ?? DEFAULT_WINDOW)
  t.same(compareTruth(truth, actual), [], 'the state read over HTTP matches Linux')
  const check = jsonOf(await call(app, s, 'GET', '/check')) as { ok: boolean, violations: string[] }
  t.same(check.violations, [], 'invariants hold')
  t.equal((await call(app, s, 'DELETE', '/')).statusCode, 204)
}

const sets: Array<[string, string, string]> = [
  ['shared', 'scenarios', 'linux-6.18'],
  ['extra', 'extra/scenarios', 'extra/linux'],
  ['generated', 'generated/scenarios', 'generated/linux'],
  ['extended', 'extended/scenarios', 'extended/linux']
]

for (const [set, scenDir, truthDir] of sets) {
  t.test(`Linux 6.18 ground truth through POST /ops: ${set}`, async (t) => {
    const app = await buildTestApp(t)
    const files = readdirSync(join(root, scenDir)).filter((f) => f.endsWith('.json')).sort()
    t.ok(files.length >= 14, `${files.length} scenarios`)
    const truths = new Set(readdirSync(join(root, truthDir)))
    for (const file of files) {
      t.ok(truths.has(file), `${file} has a truth`)
      if (!truths.has(file)) continue
      const text = readFileSync(join(root, scenDir, file), 'utf8')
      const truth = JSON.parse(readFileSync(join(root, truthDir, file), 'utf8')) as Truth
      await t.test(file, async (t) => { await runScenario(t, app, text, truth) })
    }
  })
}

t.test('the /ops truth is not vacuous: a wrong run is caught', async (t) => {
  const app = await buildTestApp(t)
  const scenario = JSON.parse(readFileSync(join(root, 'scenarios', '03-child-write-copies.json'), 'utf8')) as Scenario
  const truth = JSON.parse(readFileSync(join(root, 'linux-6.18', '03-child-write-copies.json'), 'utf8')) as Truth
  // The child's write left out: the child still shares the parent's frame.
  const ops = scenario.ops.filter((o) => !(o.op === 'write' && o.proc === 'C'))
  const s = await createSession(app, '6.18')
  const res = await postOps(app, s, { ...scenario, ops } as never)
  t.equal(res.statusCode, 200)
  const b = res.json() as BatchReply
  const diffs = compareTruth(truth, await truthOverHttp(app, s, b.processes, b.probes, DEFAULT_WINDOW))
  t.ok(diffs.length > 0, `differences found: ${diffs.join('; ')}`)
  t.ok(diffs.some((d) => d.startsWith('probes:')), 'the probe grouping differs too')
})

/** Scenario ops of features 2.6.11 did not have (madvise advices of 2.6.16 and later). */
const NOT_IN_2611 = new Set(['pageout', 'free', 'dontfork', 'dofork', 'wipeonfork', 'keeponfork', 'populate'])

t.test('the 2.6.11 model takes the same scenarios through /ops (no ground truth to compare), and refuses what it lacks', async (t) => {
  const app = await buildTestApp(t)
  const files = readdirSync(join(root, 'scenarios')).filter((f) => f.endsWith('.json')).sort()
  for (const file of files) {
    const text = readFileSync(join(root, 'scenarios', file), 'utf8')
    const s = await createSession(app, '2.6.11')
    const res = await app.inject({ method: 'POST', url: `${s.base}/ops`, headers: { ...s.headers, 'content-type': 'application/json' }, payload: text })
    const lacking = (JSON.parse(text) as { ops: Array<{ op: string }> }).ops.find((o) => NOT_IN_2611.has(o.op))
    if (lacking === undefined) t.equal(res.statusCode, 200, `${file}: accepted (${res.body.slice(0, 200)})`)
    else {
      const e = (jsonOf(res) as { error: { code: string, details: { firstFailure: { op: string, error: { code: string, message: string } } } } }).error
      t.equal(res.statusCode, 422, `${file}: refused`)
      t.equal(e.details.firstFailure.error.code, 'unsupported', `${file}: ${lacking.op} is unsupported in 2.6.11`)
      t.match(e.details.firstFailure.error.message, /is not in Linux 2\.6\.11: it came in \d/, `${file}: the message names the version that added it`)
    }
    const check = jsonOf(await call(app, s, 'GET', '/check')) as { violations: string[] }
    t.same(check.violations, [], `${file}: invariants hold`)
  }
})
