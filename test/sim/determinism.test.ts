/**
 * Determinism: the engine has no hidden sources of variation (time, randomness, iteration order of
 * something unordered), so the same seeded sequence of calls (helpers/random-ops.ts) gives the same
 * results, the same final state and the same event stream every time, on both kernel models. A
 * different seed must give a different stream, or the comparison proves nothing.
 *
 * Also checked here, on the same recordings: a subscriber does not change what the engine does, and
 * the event stream accounts for every PTE and every frame (replaying it rebuilds the page tables and
 * the set of frames in use).
 */
import t from 'tap'
import { ZERO_PFN, decodePte, Simulator, type KernelVersion, type SimEvent, type SimLimits } from '../../src/sim/index.js'
import { Generator, PRELUDE, fingerprint, fmtCall, invoke, outcomeOf, teardown, type Call } from './helpers/random-ops.js'

interface Recording {
  calls: Call[]
  /** The JSON of each call's result or error. */
  results: string[]
  events: SimEvent[]
  /** The JSON of the whole event stream. */
  stream: string
  /** Fingerprint after the sequence, and after the teardown. */
  state: string
  end: string
}

const TIGHT: Partial<SimLimits> = { maxFrames: 120, maxSwapSlots: 12, maxVmasPerProcess: 10, maxProcesses: 6 }

function record (kernel: KernelVersion, seed: number, steps: number, limits?: Partial<SimLimits>, listen = true): Recording {
  const sim = new Simulator({ version: kernel, limits })
  const events: SimEvent[] = []
  if (listen) sim.subscribe((e) => { events.push(e) })
  const gen = new Generator(seed)
  const calls: Call[] = []
  const results: string[] = []
  for (let i = 0; i < PRELUDE.length + steps; i++) {
    const call = i < PRELUDE.length ? PRELUDE[i] : gen.next(sim).call
    calls.push(call)
    const out = outcomeOf(() => invoke(sim, call))
    results.push(JSON.stringify(out.ok
      ? { ok: out.value ?? null }
      : { error: out.error.name, code: out.error.code, errno: out.error.errno, message: out.error.message, details: out.error.details }))
  }
  const state = fingerprint(sim)
  // Serialised after the sequence: an access sets its cause's fault path when the fault is done.
  const stream = JSON.stringify(events)
  const snapshot = { calls, results, events: [...events], stream, state }
  teardown(sim, true)
  return { ...snapshot, end: fingerprint(sim) }
}

/** Where two lists first differ, for a readable failure. */
function firstDiff (a: string[], b: string[]): string {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `#${i}:\n  first:  ${a[i] ?? '(none)'}\n  second: ${b[i] ?? '(none)'}`
  }
  return 'none'
}

const withoutEventCount = (fp: string): string => {
  const o = JSON.parse(fp) as { stats: { events: number } }
  o.stats.events = 0
  return JSON.stringify(o)
}

const SEQUENCES: Array<{ seed: number, steps: number, limits?: Partial<SimLimits> }> = [
  { seed: 101, steps: 600 },
  { seed: 202, steps: 500, limits: TIGHT }
]

for (const kernel of ['2.6.11', '6.18'] as const) {
  t.test(`Linux ${kernel} model: the same seed gives the same run`, async (t) => {
    for (const { seed, steps, limits } of SEQUENCES) {
      const label = `seed ${seed}${limits !== undefined ? ' (tight limits)' : ''}`
      const a = record(kernel, seed, steps, limits)
      const b = record(kernel, seed, steps, limits)
      t.ok(a.events.length > steps, `${label}: ${a.calls.length} calls, ${a.events.length} events recorded`)
      t.equal(a.calls.map(fmtCall).join('\n'), b.calls.map(fmtCall).join('\n'), `${label}: the same calls`)
      t.ok(a.results.join('\n') === b.results.join('\n'), `${label}: the same results`, { firstDifference: firstDiff(a.results, b.results) })
      t.ok(a.stream === b.stream, `${label}: the same event stream`, {
        firstDifference: firstDiff(a.events.map((e) => JSON.stringify(e)), b.events.map((e) => JSON.stringify(e)))
      })
      t.ok(a.state === b.state, `${label}: the same final state`)
      t.ok(a.end === b.end, `${label}: the same state after the teardown`)

      // seq numbers are 1, 2, 3, ... and stats() counts them all.
      t.ok(a.events.every((e, i) => e.seq === i + 1), `${label}: events are numbered 1..${a.events.length} without gaps`)
      t.equal(JSON.parse(a.state).stats.events, a.events.length, `${label}: stats().events counts every event`)

      // A listener only watches: without one the engine does exactly the same.
      const quiet = record(kernel, seed, steps, limits, false)
      t.ok(quiet.events.length === 0 && quiet.results.join('\n') === a.results.join('\n'), `${label}: the same results without a subscriber`,
        { firstDifference: firstDiff(a.results, quiet.results) })
      t.ok(withoutEventCount(quiet.state) === withoutEventCount(a.state), `${label}: the same final state without a subscriber`)

      const replay = replayStream(a, kernel)
      t.same(replay.problems, [], `${label}: PTE and frame events chain`)
      t.same(replay.ptes.fromEvents, replay.ptes.fromEngine, `${label}: replaying the PTE events rebuilds every process's PTEs`)
      t.same(replay.frames.fromEvents, replay.frames.fromEngine, `${label}: replaying the frame events leaves exactly the frames in use`)
    }
  })

  t.test(`Linux ${kernel} model: a different seed gives a different run`, async (t) => {
    const a = record(kernel, 303, 300)
    const b = record(kernel, 304, 300)
    t.not(a.stream, b.stream, 'different event streams')
    t.not(a.results.join('\n'), b.results.join('\n'), 'different results')
    t.not(a.state, b.state, 'different final states')
  })
}

/**
 * Replays the recorded stream: PTE events must chain (each `before` is the value the previous event
 * left) and rebuild exactly the live processes' PTEs; frame events must leave exactly the frames in use.
 */
function replayStream (rec: Recording, kernel: KernelVersion): {
  problems: string[]
  ptes: { fromEvents: Record<number, Record<number, unknown>>, fromEngine: Record<number, Record<number, unknown>> }
  frames: { fromEvents: number[], fromEngine: number[] }
} {
  const ptes = new Map<number, Map<number, number>>()
  const live = new Set<number>()
  const problems: string[] = []
  for (const e of rec.events) {
    if (e.type === 'pte.set' || e.type === 'pte.cleared' || e.type === 'pte.changed') {
      const pid = e.pid as number
      const addr = e.addr as number
      const table = ptes.get(pid) ?? new Map<number, number>()
      ptes.set(pid, table)
      const was = table.get(addr) ?? 0
      if (was !== e.before && problems.length < 5) problems.push(`event ${e.seq} (${e.type}, ${e.cause.op}): pid ${pid} ${addr.toString(16)} was ${was}, the event says ${String(e.before)}`)
      if (e.after === 0) table.delete(addr)
      else table.set(addr, e.after as number)
    } else if (e.type === 'frame.allocated') {
      if (live.has(e.pfn as number) && problems.length < 5) problems.push(`event ${e.seq}: PFN ${String(e.pfn)} allocated twice`)
      live.add(e.pfn as number)
    } else if (e.type === 'frame.freed') {
      if (!live.has(e.pfn as number) && problems.length < 5) problems.push(`event ${e.seq}: PFN ${String(e.pfn)} freed but not allocated`)
      live.delete(e.pfn as number)
    } else if (e.type === 'process.exited') {
      const left = ptes.get(e.pid as number)
      if (left !== undefined && left.size > 0 && problems.length < 5) problems.push(`event ${e.seq}: pid ${String(e.pid)} exited with ${left.size} PTE(s) never cleared`)
      ptes.delete(e.pid as number)
    }
  }
  const fromEvents: Record<number, Record<number, unknown>> = {}
  const fromEngine: Record<number, Record<number, unknown>> = {}
  const state = JSON.parse(rec.state) as { procs: Array<{ pid: number }>, ptes: Array<Array<{ addr: number, pte: unknown }>>, frames: Array<{ pfn: number }> }
  state.procs.forEach((p, i) => {
    fromEngine[p.pid] = Object.fromEntries(state.ptes[i].map((e) => [e.addr, e.pte]))
    fromEvents[p.pid] = Object.fromEntries([...(ptes.get(p.pid) ?? new Map<number, number>())].sort((x, y) => x[0] - y[0]).map(([addr, v]) => [addr, decodePte(v, new Simulator({ version: kernel }).state.model.pteLayout)]))
  })
  return {
    problems,
    ptes: { fromEvents, fromEngine },
    frames: { fromEvents: [...live].sort((x, y) => x - y), fromEngine: state.frames.map((f) => f.pfn).filter((p) => p !== ZERO_PFN) }
  }
}
