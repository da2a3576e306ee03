/**
 * Randomised property test of both kernel models. A seeded generator (helpers/random-ops.ts, driven
 * by mulberry32) runs long random sequences over several processes: spawn, fork, exit, mmap of every
 * kind, munmap, mprotect, mremap, madvise, accesses inside and outside VMAs, rmap operations on
 * random frames (referenced, unmap = swap out, mkclean, migrate), evict, and swap-ins.
 *
 * Properties, checked after every step:
 *  - a call either succeeds or throws a SimError (anything else is a crash);
 *  - a call that throws leaves the observable state exactly as it was (same fingerprint);
 *  - sim.check() reports no invariant violation, and the PTEs mean what their VMAs say
 *    (semanticViolations: protection, NX, page kinds and indexes, COW isolation);
 *  - calls that only look (rmap, translate, frame, ...) change nothing;
 *  - the calls that failed were no-ops, hidden state included: replaying the sequence without them
 *    gives the same results and the same final state;
 * and at the end of every sequence, after every process exits, dirty pages are written back and the
 * caches are dropped: no frame, swap slot or anon_vma is left (nothing leaked).
 *
 * On failure the op log is printed (replayable `sim.*` calls) together with a shrunk reproduction.
 * Reproduce a seed alone with RMAP_SEED=<seed> RMAP_MODEL=<2.6.11|6.18> [RMAP_STEPS=n]
 * [RMAP_LIMITS='<json>'] [RMAP_QUIET=1 (no subscriber)], replay a printed log (lines `sim.method(args)`,
 * e.g. a shrunk reproduction saved to a file) with RMAP_REPLAY=<file> RMAP_MODEL=<model>
 * [RMAP_LIMITS=...], or soak with RMAP_SEEDS=<from>..<to> [RMAP_STEPS=n] (each seed plain and with
 * RMAP_LIMITS or the tight limits); RMAP_GEN='{"maxLive":8,"invalid":0.2}' tunes the generator.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { Simulator, type KernelVersion, type SimLimits } from '../../src/sim/index.js'
import {
  Generator, PRELUDE, type GenOptions, READ_ONLY, fingerprint, fmtCall, invoke, outcomeOf, parseCalls, semanticViolations, teardown, type Call, type RunConfig
} from './helpers/random-ops.js'

/**
 * Zapping the last mapping of a swap-cache page whose slot no swap entry uses frees it (Linux's
 * free_pages_and_swap_cache -> free_swap_cache). Set this to true only to let the teardown reclaim
 * such pages with unmap() if that ever regresses while investigating something else.
 */
const RECLAIM_ORPHAN_SWAP_CACHE = false

/** Tight limits make LimitError paths (out of frames, swap, VMAs, processes, files) reachable. */
const TIGHT: Partial<SimLimits> = { maxFrames: 120, maxSwapSlots: 12, maxVmasPerProcess: 10, maxProcesses: 6, maxFiles: 3, maxFilePages: 12 }

interface Plan { seed: number, steps: number, limits?: Partial<SimLimits>, listen: boolean, gen?: GenOptions }

const PLANS: Plan[] = [
  { seed: 1, steps: 900, listen: true },
  { seed: 2, steps: 900, listen: false },
  { seed: 3, steps: 600, listen: true, limits: TIGHT },
  { seed: 4, steps: 600, listen: false, limits: TIGHT },
  { seed: 0xc0ffee, steps: 900, listen: true },
  { seed: 0x5eed5, steps: 500, listen: false, limits: { ...TIGHT, maxFrames: 70 } },
  { seed: 7, steps: 900, listen: false, gen: { maxLive: 8 } },
  { seed: 8, steps: 700, listen: true, limits: TIGHT, gen: { invalid: 0.15 } },
  { seed: 9, steps: 900, listen: true, gen: { maxLive: 3 } },
  { seed: 10, steps: 700, listen: false, limits: { maxFrames: 60, maxSwapSlots: 6, maxVmasPerProcess: 8, maxProcesses: 9 }, gen: { maxLive: 9, invalid: 0.2 } }
]

type FailureKind = 'crash' | 'error-changed-state' | 'query-changed-state' | 'violation' | 'semantics' | 'hidden-state' | 'leak'

interface Failure {
  kind: FailureKind
  /** Index in the log of the call that failed (the teardown for leaks). */
  at: number
  message: string
}

interface RunResult {
  log: Call[]
  kinds: string[]
  /** The JSON of each call's result, or null when it threw. */
  results: Array<string | null>
  failure?: Failure
  /** generator label -> "ok" / error code -> count */
  outcomes: Map<string, Map<string, number>>
  paths: Map<string, number>
  orphansReclaimed: number
}

const bump = <K>(m: Map<K, number>, k: K): void => { m.set(k, (m.get(k) ?? 0) + 1) }

/**
 * Runs a sequence with every check. With `replay` the calls are replayed literally (for shrinking);
 * otherwise the generator proposes `cfg.steps` calls.
 */
function run (cfg: RunConfig & { listen: boolean }, replay?: Call[]): RunResult {
  const sim = new Simulator({ version: cfg.kernel, limits: cfg.limits })
  // A listener makes the engine build events (and exercises the event code paths); it also makes
  // stats().events count them, so a failing call that emitted events shows in the fingerprint.
  if (cfg.listen) sim.subscribe(() => {})
  const gen = new Generator(cfg.seed, cfg.gen)
  const res: RunResult = { log: [], kinds: [], results: [], outcomes: new Map(), paths: new Map(), orphansReclaimed: 0 }
  const total = replay?.length ?? PRELUDE.length + cfg.steps
  let fp = fingerprint(sim)
  for (let i = 0; i < total; i++) {
    let call: Call
    let kind: string
    if (replay !== undefined) { call = replay[i]; kind = call.m } else if (i < PRELUDE.length) { call = PRELUDE[i]; kind = 'prelude' } else {
      try {
        ({ call, kind } = gen.next(sim))
      } catch (err) {
        res.failure = { kind: 'crash', at: i, message: `the generator's state queries threw: ${(err as Error).stack ?? String(err)}` }
        return res
      }
    }
    res.log.push(call)
    res.kinds.push(kind)
    let out: ReturnType<typeof outcomeOf>
    try {
      out = outcomeOf(() => invoke(sim, call))
    } catch (err) {
      res.failure = { kind: 'crash', at: i, message: `${fmtCall(call)} threw a non-SimError: ${(err as Error).stack ?? String(err)}` }
      return res
    }
    const counts = res.outcomes.get(kind) ?? new Map<string, number>()
    res.outcomes.set(kind, counts)
    res.results.push(out.ok ? JSON.stringify(out.value ?? null) : null)
    if (out.ok) {
      bump(counts, 'ok')
      if (call.m === 'access') bump(res.paths, (out.value as { path: string }).path)
      if (call.m === 'unmap' && (out.value as { freed: boolean }).freed) bump(res.paths, 'unmap.freed')
      if (call.m === 'evict' && (out.value as { evicted: unknown[] }).evicted.length > 0) bump(res.paths, 'evict.evicted')
    } else {
      bump(counts, out.error.code)
      const now = fingerprint(sim)
      if (now !== fp) {
        res.failure = { kind: 'error-changed-state', at: i, message: `${fmtCall(call)} threw ${out.error.name} (${out.error.message}) but changed the state` }
        return res
      }
    }
    const report = sim.check()
    if (report.violations.length > 0) {
      res.failure = { kind: 'violation', at: i, message: `after ${fmtCall(call)}:\n  ${report.violations.slice(0, 10).join('\n  ')}` }
      return res
    }
    const wrong = semanticViolations(sim)
    if (wrong.length > 0) {
      res.failure = { kind: 'semantics', at: i, message: `after ${fmtCall(call)}:\n  ${wrong.slice(0, 10).join('\n  ')}` }
      return res
    }
    if (out.ok) {
      const now = fingerprint(sim)
      if (READ_ONLY.has(call.m) && now !== fp) {
        res.failure = { kind: 'query-changed-state', at: i, message: `${fmtCall(call)} only looks, but it changed the state` }
        return res
      }
      fp = now
    }
  }
  // Hidden state (id counters, allocator cursors, the address-search cache) is not in the
  // fingerprint, so check that the failing calls were no-ops another way: without them the other
  // calls must give the same results and the same final state.
  const hidden = withoutFailingCalls(cfg, res, fp)
  if (hidden !== undefined) {
    res.failure = hidden
    return res
  }
  // The end: nothing may be left once every process is gone and the caches are dropped.
  let calls: Call[]
  try {
    const end = teardown(sim, RECLAIM_ORPHAN_SWAP_CACHE)
    calls = end.calls
    res.orphansReclaimed = end.reclaimed
  } catch (err) {
    res.failure = { kind: 'crash', at: res.log.length, message: `teardown threw: ${(err as Error).stack ?? String(err)}` }
    return res
  }
  res.log.push(...calls)
  res.kinds.push(...calls.map(() => 'teardown'))
  const s = sim.stats()
  const problems: string[] = []
  if (s.framesInUse !== 0) problems.push(`${s.framesInUse} frame(s) still in use: ${JSON.stringify(s.framesByKind)}`)
  if (s.swapSlotsUsed !== 0) problems.push(`${s.swapSlotsUsed} swap slot(s) still used`)
  if (s.anonVmas !== 0) problems.push(`${s.anonVmas} anon_vma(s) still allocated`)
  if (s.processes !== 0 || s.vmas !== 0) problems.push(`${s.processes} process(es), ${s.vmas} VMA(s) left`)
  const report = sim.check()
  if (report.violations.length > 0) problems.push(...report.violations.slice(0, 10))
  if (problems.length > 0) {
    const left = sim.frames({ limit: 20 }).frames.filter((f) => f.kind !== 'zero')
      .map((f) => `PFN ${f.pfn} ${f.kind} refcount ${f.refcount} mapcount ${f.mapcount} flags ${f.flags.join('|')} swapSlot ${f.swapSlot}`)
    res.failure = { kind: 'leak', at: res.log.length, message: [...problems, ...left].join('\n  ') }
  }
  return res
}

const withoutEventCount = (fp: string): string => fp.replace(/"events":\d+/, '"events":0')

function withoutFailingCalls (cfg: RunConfig & { listen: boolean }, res: RunResult, fp: string): Failure | undefined {
  const sim = new Simulator({ version: cfg.kernel, limits: cfg.limits })
  if (cfg.listen) sim.subscribe(() => {})
  for (let i = 0; i < res.log.length; i++) {
    if (res.results[i] === null) continue
    const out = outcomeOf(() => invoke(sim, res.log[i]))
    const got = out.ok ? JSON.stringify(out.value ?? null) : `${out.error.name}: ${out.error.message}`
    if (got !== res.results[i]) {
      return {
        kind: 'hidden-state',
        at: i,
        message: `without the calls that failed before it, ${fmtCall(res.log[i])} gives a different result:\n  with them:    ${String(res.results[i]).slice(0, 400)}\n  without them: ${got.slice(0, 400)}`
      }
    }
  }
  if (withoutEventCount(fingerprint(sim)) !== withoutEventCount(fp)) {
    return { kind: 'hidden-state', at: res.log.length - 1, message: 'without the calls that failed, the sequence ends in a different state' }
  }
  return undefined
}

/** The failure with digits blanked, so shrinking keeps to the same bug. */
const signature = (f: Failure): string => f.kind + ':' + f.message.split('\n')[f.kind === 'violation' || f.kind === 'semantics' ? 1 : 0].replace(/0x[0-9a-f]+|\d+/g, '#').replace(/\{.*\}/, '{}')

/**
 * Shrinks a failing log (ddmin-style: drop chunks, halving the chunk size) while the literal replay
 * still fails the same way. Teardown calls are dropped first; a leak is found again by the replay.
 */
/** Time left for shrinking in this file, so many failing seeds cannot run into tap's timeout. */
let shrinkBudgetMs = 30_000

function shrink (cfg: RunConfig & { listen: boolean }, r: RunResult, failure: Failure): { calls: Call[], failure: Failure } {
  const started = Date.now()
  const deadline = started + Math.min(8000, shrinkBudgetMs)
  const sig = signature(failure)
  // A leak is found again by the replay's own teardown.
  let calls = failure.kind === 'leak' ? r.log.filter((_, i) => r.kinds[i] !== 'teardown') : r.log.slice(0, failure.at + 1)
  let best = failure
  const fails = (cand: Call[]): Failure | undefined => {
    const r = run(cfg, cand)
    return r.failure !== undefined && signature(r.failure) === sig ? r.failure : undefined
  }
  for (let chunk = Math.max(1, calls.length >> 1); chunk >= 1 && Date.now() < deadline; chunk = chunk === 1 ? 0 : chunk >> 1) {
    for (let i = calls.length - chunk; i >= 0 && Date.now() < deadline; i -= chunk) {
      const cand = [...calls.slice(0, i), ...calls.slice(i + chunk)]
      const f = fails(cand)
      if (f !== undefined) {
        calls = f.kind === 'leak' ? cand : cand.slice(0, f.at + 1)
        best = f
        i = Math.min(i, calls.length)
      }
    }
  }
  shrinkBudgetMs -= Date.now() - started
  return { calls, failure: best }
}

const ESSENTIAL_KINDS = [
  'spawn', 'fork', 'exit', 'createFile',
  'mmap.anon.private', 'mmap.anon.shared', 'mmap.file.private', 'mmap.file.shared',
  'mmap.anon.private.noreplace', 'mmap.anon.private.replace', 'mmap.file.shared.replace', 'mmap.anon.private.hint',
  'munmap.whole', 'munmap.partial', 'munmap.wide',
  'mprotect.r', 'mprotect.rw', 'mprotect.none', 'mprotect.rwx',
  'mremap.grow', 'mremap.shrink', 'mremap.move', 'madvise.dontneed',
  'access.read.inside', 'access.write.inside', 'access.exec.inside', 'access.read.swapin', 'access.write.swapin',
  'referenced.mapped', 'unmap.mapped', 'mkclean.mapped', 'migrate.mapped', 'evict', 'writeback', 'dropCaches'
]
const ESSENTIAL_PATHS = [
  'zero_page', 'anon_alloc', 'file_read', 'shared_write', 'private_file_cow', 'cow_copy', 'cow_reuse',
  'zero_page_cow', 'shared_write_notify', 'swap_in', 'sigsegv', 'sigbus', 'none', 'unmap.freed', 'evict.evicted'
]
/**
 * What 2.6.11 did not have: page_mkclean (2.6.19) and with it the write-notify fault of shared
 * mappings, and page migration (2.6.16). Those calls must be refused there (unsupported), never succeed.
 */
const NOT_IN_2611 = { kinds: ['mkclean.mapped', 'migrate.mapped'], paths: ['shared_write_notify'] }

const only = process.env.RMAP_SEED !== undefined ? Number(process.env.RMAP_SEED) : undefined
const onlyModel = process.env.RMAP_MODEL as KernelVersion | undefined
const models: KernelVersion[] = onlyModel !== undefined ? [onlyModel] : ['2.6.11', '6.18']
// A soak run: RMAP_SEEDS=<from>..<to> runs every seed in [from, to), plain and with tight limits.
const soak = /^(\d+)\.\.(\d+)$/.exec(process.env.RMAP_SEEDS ?? '')
const soakPlans = (from: number, to: number): Plan[] => {
  const out: Plan[] = []
  for (let seed = from; seed < to; seed++) {
    out.push({ seed, steps: Number(process.env.RMAP_STEPS ?? 700), listen: seed % 2 === 0, gen: envGen })
    out.push({ seed, steps: Number(process.env.RMAP_STEPS ?? 700), listen: seed % 2 === 1, limits: envLimits ?? TIGHT, gen: envGen })
  }
  return out
}
const custom = only !== undefined || soak !== null
const envGen = process.env.RMAP_GEN !== undefined ? JSON.parse(process.env.RMAP_GEN) as GenOptions : undefined
const envLimits = process.env.RMAP_LIMITS !== undefined ? JSON.parse(process.env.RMAP_LIMITS) as Partial<SimLimits> : undefined
const plans: Plan[] = only !== undefined
  ? [{ seed: only, steps: Number(process.env.RMAP_STEPS ?? 700), listen: process.env.RMAP_QUIET !== '1', limits: envLimits, gen: envGen }]
  : soak !== null ? soakPlans(Number(soak[1]), Number(soak[2])) : PLANS

if (process.env.RMAP_REPLAY !== undefined) {
  const calls = parseCalls(readFileSync(process.env.RMAP_REPLAY, 'utf8'))
  for (const kernel of models) {
    t.test(`replay of ${process.env.RMAP_REPLAY} (${calls.length} calls), Linux ${kernel} model`, async (t) => {
      const r = run({ kernel, seed: 0, steps: 0, limits: envLimits, listen: true }, calls)
      t.equal(r.failure, undefined, r.failure === undefined ? 'no failure' : `${r.failure.kind} at call ${r.failure.at}: ${r.failure.message}`)
    })
  }
}

for (const kernel of process.env.RMAP_REPLAY === undefined ? models : []) {
  t.test(`random operation sequences, Linux ${kernel} model`, async (t) => {
    const outcomes = new Map<string, Map<string, number>>()
    const paths = new Map<string, number>()
    let steps = 0
    let orphans = 0
    for (const plan of plans) {
      const cfg = { kernel, seed: plan.seed, steps: plan.steps, limits: plan.limits, listen: plan.listen, gen: plan.gen }
      const label = `seed ${plan.seed}${plan.limits !== undefined ? ' (tight limits)' : ''}${plan.listen ? ' (with a listener)' : ''}`
      const r = run(cfg)
      steps += r.log.length
      orphans += r.orphansReclaimed
      for (const [k, m] of r.outcomes) {
        const into = outcomes.get(k) ?? new Map<string, number>()
        outcomes.set(k, into)
        for (const [o, n] of m) into.set(o, (into.get(o) ?? 0) + n)
      }
      for (const [p, n] of r.paths) paths.set(p, (paths.get(p) ?? 0) + n)
      if (r.failure === undefined) {
        t.pass(`${label}: ${r.log.length} calls, invariants held after each, failing calls changed nothing, nothing leaked`)
        continue
      }
      const small = shrink(cfg, r, r.failure)
      const limits = plan.limits !== undefined ? ` RMAP_LIMITS='${JSON.stringify(plan.limits)}'` : ''
      t.fail(`${label}: ${r.failure.kind} at call ${r.failure.at}`, {
        diagnostic: true,
        failure: r.failure.message,
        reproduce: `RMAP_SEED=${plan.seed} RMAP_MODEL=${kernel} RMAP_STEPS=${plan.steps}${limits}${plan.gen !== undefined ? ` RMAP_GEN='${JSON.stringify(plan.gen)}'` : ''}${plan.listen ? '' : ' RMAP_QUIET=1'} npx tap test/sim/random.test.ts`,
        replay: `save the shrunk calls below to a file, then: RMAP_REPLAY=<file> RMAP_MODEL=${kernel}${limits} npx tap test/sim/random.test.ts`
      })
      t.comment([
        `shrunk reproduction (${small.calls.length} calls, new Simulator({ version: '${kernel}'${plan.limits !== undefined ? `, limits: ${JSON.stringify(plan.limits)}` : ''} })${plan.listen ? ' with a subscriber' : ''}):`,
        ...small.calls.map(fmtCall),
        ...(small.failure.kind === 'leak' ? ['(then every process exits, dirty cache pages are cleaned, caches dropped)'] : []),
        `-> ${small.failure.kind}: ${small.failure.message}`,
        '',
        `full op log of ${label} up to the failure:`,
        ...r.log.slice(0, r.failure.at + 1).map((c, i) => `${String(i).padStart(4)} ${fmtCall(c)}    // ${r.kinds[i]}`)
      ].join('\n'))
    }
    t.ok(custom || steps >= 2000, `${steps} calls in all`)
    if (orphans > 0) t.comment(`known engine bug worked around: ${orphans} unmapped swap-cache page(s) with no swap user had to be reclaimed by hand`)
    // The generator must reach the interesting places, or the test proves little.
    const succeeded = (k: string): boolean => (outcomes.get(k)?.get('ok') ?? 0) > 0
    if (custom) return
    const old = kernel === '2.6.11'
    const missingKinds = ESSENTIAL_KINDS.filter((k) => !(old && NOT_IN_2611.kinds.includes(k)) && !succeeded(k))
    t.same(missingKinds, [], 'every kind of call succeeded at least once')
    const missingPaths = ESSENTIAL_PATHS.filter((p) => !(old && NOT_IN_2611.paths.includes(p)) && (paths.get(p) ?? 0) === 0)
    t.same(missingPaths, [], 'every fault path (and a freeing swap-out, an eviction) was taken')
    if (old) {
      t.same(NOT_IN_2611.kinds.filter(succeeded), [], '2.6.11: page_mkclean and migration never succeed')
      t.same(NOT_IN_2611.kinds.filter((k) => (outcomes.get(k)?.get('unsupported') ?? 0) === 0), [], '2.6.11: they are refused as unsupported')
      t.same(NOT_IN_2611.paths.filter((p) => (paths.get(p) ?? 0) > 0), [], '2.6.11: no write-notify fault')
    }
    const codes = new Set<string>()
    for (const m of outcomes.values()) for (const o of m.keys()) if (o !== 'ok') codes.add(o)
    t.same([...codes].sort(), ['conflict', 'invalid_argument', 'limit', 'not_found', 'unsupported'], 'every kind of SimError was provoked')
  })
}
