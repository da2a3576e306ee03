/**
 * Engine micro-benchmarks for the rmap simulator, both kernel models side by side.
 *
 *   npm run bench        ("bench": "node --expose-gc --import tsx src/sim/bench/engine-bench.ts",
 *                         or "tsx src/sim/bench/engine-bench.ts": both work)
 *   npx tsx src/sim/bench/engine-bench.ts [options]
 *   node --expose-gc --import tsx src/sim/bench/engine-bench.ts [options]
 *
 * A full GC is needed for the heap measurement. With --expose-gc the script uses global.gc; without
 * it the script turns the flag on at run time (v8.setFlagsFromString + a fresh vm context, which
 * hands back a working gc()), so `tsx src/sim/bench/engine-bench.ts` needs no extra node flag. If
 * that ever stops working it re-executes itself with --expose-gc.
 *
 * Options:
 *   --only=fault,fork,rmap,heap   run only some sections (fork and heap share the 1M-page parent)
 *   --kernel=2.6.11|6.18          one kernel model only
 *   --reps=N                      timed repetitions per measurement (default 5, after 1 warm-up)
 *   --quick                       smaller sizes, for a smoke test (figures not comparable to targets)
 * Environment:
 *   BENCH_JSON=path               also write every figure (and the raw samples) as JSON there
 *
 * Sections:
 *   1. fault: mmap a 1 GiB private anonymous region, write every page once (sim.write);
 *      anonymous write faults per second.
 *   2. fork:  a parent with 1,000,000 resident (written) anonymous pages forks; fork time, PTEs
 *      copied per second (child's RSS / fork time), and the child's exit time. Between repetitions the
 *      parent writes every page again (untimed) so its PTEs are writable and exclusive as after the
 *      first writes, and the next fork has the same write-protect work to do.
 *   3. rmap:  sim.rmap(pfn) of one anonymous page mapped by 1 + 1,000 processes (a parent writes a page
 *      then forks 1,000 times), and of one file page mapped MAP_SHARED by 1,000 unrelated processes.
 *      Each walk is timed on its own; mean, median and p95 per walk. An engine-only row (rmapWalk
 *      with an empty visitor, no facade views) separates walk cost from result building.
 *   4. heap:  (heapUsed + arrayBuffers) after a full GC, before and after the 1,000,000 pages of the
 *      fork parent are made resident; divided by the page count.
 * When the Simulator has an op journal (journalLimit, default 100,000 ops), faults and heap are also
 * measured with journalLimit 0, to separate the engine from the journal.
 * The footer prints the 1-minute load average: on this 2-vCPU box other work skews every figure.
 */
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import os from 'node:os'
import { performance } from 'node:perf_hooks'
import v8 from 'node:v8'
import vm from 'node:vm'
import { PAGE_SIZE, Simulator, type KernelVersion } from '../index.js'

// ---------------------------------------------------------------- options

type Section = 'fault' | 'fork' | 'rmap' | 'heap'
const ALL_SECTIONS: Section[] = ['fault', 'fork', 'rmap', 'heap']
const ALL_KERNELS: KernelVersion[] = ['2.6.11', '6.18']

function argValue (name: string): string | undefined {
  const pre = `--${name}=`
  const a = process.argv.slice(2).find((x) => x === `--${name}` || x.startsWith(pre))
  if (a === undefined) return undefined
  return a.startsWith(pre) ? a.slice(pre.length) : ''
}

const quick = argValue('quick') !== undefined
const sections = new Set<Section>((argValue('only')?.split(',').filter(Boolean) as Section[] | undefined) ?? ALL_SECTIONS)
for (const s of sections) if (!ALL_SECTIONS.includes(s)) throw new Error(`unknown section "${s}" (use ${ALL_SECTIONS.join(',')})`)
const kernels: KernelVersion[] = argValue('kernel') !== undefined ? [argValue('kernel') as KernelVersion] : ALL_KERNELS
for (const k of kernels) if (!ALL_KERNELS.includes(k)) throw new Error(`unknown kernel "${k}"`)
const REPS = Number(argValue('reps') ?? 5)
const WARMUP = 1

const FAULT_PAGES = quick ? 1 << 15 : 1 << 18 // 1 GiB of 4 KiB pages
const FORK_PAGES = quick ? 100_000 : 1_000_000
const RMAP_PROCS = quick ? 100 : 1_000
const RMAP_WARMUP_WALKS = quick ? 20 : 100
const RMAP_WALKS_PER_REP = quick ? 50 : 200
const MAX_FRAMES = 1 << 22

const TARGETS = {
  forkPtesPerSec: 12.5e6,
  walkMs: 1,
  heapBytesPerPage: 64
}

// ---------------------------------------------------------------- gc

function obtainGc (): () => void {
  const g = (globalThis as { gc?: () => void }).gc
  if (typeof g === 'function') return g
  try {
    v8.setFlagsFromString('--expose-gc')
    const fn = vm.runInNewContext('gc') as unknown
    if (typeof fn === 'function') return fn as () => void
  } catch { /* fall through to re-exec */ }
  if (process.env.ENGINE_BENCH_REEXEC === '1') throw new Error('global.gc is unavailable even with --expose-gc')
  // Re-run this very script (with whatever loader flags tsx gave us) under --expose-gc.
  const r = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, ENGINE_BENCH_REEXEC: '1' }
  })
  process.exit(r.status ?? 1)
}
const gc = obtainGc()

function fullGc (): void { gc(); gc() }

function heapNow (): number {
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

// ---------------------------------------------------------------- stats and formatting

interface Summary { median: number, mean: number, min: number, max: number, p95: number, n: number }

function summarize (xs: number[]): Summary {
  const s = [...xs].sort((a, b) => a - b)
  const n = s.length
  const q = (p: number): number => s[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]
  const median = n % 2 === 1 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
  return { median, mean: s.reduce((a, b) => a + b, 0) / n, min: s[0], max: s[n - 1], p95: q(0.95), n }
}

const fmtRate = (x: number): string => x >= 1e6 ? `${(x / 1e6).toFixed(2)} M/s` : x >= 1e3 ? `${(x / 1e3).toFixed(1)} k/s` : `${x.toFixed(0)} /s`
const fmtMs = (x: number): string => x >= 100 ? `${x.toFixed(0)} ms` : x >= 1 ? `${x.toFixed(1)} ms` : `${(x * 1000).toFixed(0)} µs`
const fmtMsFine = (x: number): string => x >= 1 ? `${x.toFixed(2)} ms` : `${(x * 1000).toFixed(1)} µs`
const fmtInt = (x: number): string => x.toLocaleString('en-US')

function log (msg: string): void { process.stderr.write(msg + '\n') }

// ---------------------------------------------------------------- scenarios

/**
 * `journal: false` turns off the facade's op journal (Simulator journalLimit 0), which otherwise
 * records every successful access up to its limit (100,000 ops by default): the engine alone.
 */
function newSim (kernel: KernelVersion, journal = true): Simulator {
  return new Simulator({ version: kernel, limits: { maxFrames: MAX_FRAMES }, ...(journal ? {} : { journalLimit: 0 }) })
}

/** Ops the journal holds. */
const journalLength = (sim: Simulator): number => sim.journal.length
const HAS_JOURNAL = true

/** Writes every page of [start, start + pages * PAGE_SIZE) once. */
function writeAll (sim: Simulator, pid: number, start: number, pages: number): void {
  for (let i = 0; i < pages; i++) sim.write({ pid, addr: start + i * PAGE_SIZE })
}

/** 1. anonymous write faults per second. */
function faultRun (kernel: KernelVersion, journal: boolean): number {
  const sim = newSim(kernel, journal)
  const pid = sim.spawn({}).pid
  const vma = sim.mmap({ pid, pages: FAULT_PAGES, prot: 'rw' })
  // Sanity: the first write must be an anonymous allocation.
  const t0 = performance.now()
  writeAll(sim, pid, vma.start, FAULT_PAGES)
  const ms = performance.now() - t0
  const rss = sim.process(pid).rss.anon
  if (rss !== FAULT_PAGES) throw new Error(`${kernel}: expected ${FAULT_PAGES} resident anon pages, got ${rss}`)
  return FAULT_PAGES / (ms / 1000)
}

interface ForkParent { sim: Simulator, pid: number, start: number, heapBytesPerPage: number, heapDelta: number, buildMs: number, journalOps?: number }

/** The 1M-page parent of section 2, with section 4's heap measurement around its construction. */
function buildForkParent (kernel: KernelVersion, journal = true): ForkParent {
  const sim = newSim(kernel, journal)
  const pid = sim.spawn({}).pid
  const vma = sim.mmap({ pid, pages: FORK_PAGES, prot: 'rw' })
  fullGc()
  const before = heapNow()
  const t0 = performance.now()
  writeAll(sim, pid, vma.start, FORK_PAGES)
  const buildMs = performance.now() - t0
  fullGc()
  const after = heapNow()
  const rss = sim.process(pid).rss.anon
  if (rss !== FORK_PAGES) throw new Error(`${kernel}: expected ${FORK_PAGES} resident anon pages, got ${rss}`)
  return { sim, pid, start: vma.start, heapDelta: after - before, heapBytesPerPage: (after - before) / FORK_PAGES, buildMs, journalOps: journalLength(sim) }
}

interface ForkSample { forkMs: number, exitMs: number, ptesCopied: number }

function forkRun (p: ForkParent, rewrite: boolean): ForkSample {
  if (rewrite) writeAll(p.sim, p.pid, p.start, FORK_PAGES) // untimed: PTEs writable + exclusive again
  fullGc()
  let t0 = performance.now()
  const child = p.sim.fork({ pid: p.pid })
  const forkMs = performance.now() - t0
  const r = p.sim.process(child.pid).rss
  const ptesCopied = r.anon + r.file + r.shmem + r.swap
  fullGc()
  t0 = performance.now()
  p.sim.exit({ pid: child.pid })
  const exitMs = performance.now() - t0
  return { forkMs, exitMs, ptesCopied }
}

interface RmapSetup { sim: Simulator, pfn: number, mappings: number }

function setupAnonRmap (kernel: KernelVersion): RmapSetup {
  const sim = newSim(kernel)
  const pid = sim.spawn({}).pid
  const vma = sim.mmap({ pid, pages: 1, prot: 'rw' })
  const res = sim.write({ pid, addr: vma.start })
  if (res.pfn === undefined) throw new Error(`${kernel}: anon write did not map a page`)
  for (let i = 0; i < RMAP_PROCS; i++) sim.fork({ pid })
  const mappings = sim.rmap(res.pfn).mappings.length
  if (mappings !== RMAP_PROCS + 1) throw new Error(`${kernel}: anon page has ${mappings} mappings, expected ${RMAP_PROCS + 1}`)
  return { sim, pfn: res.pfn, mappings }
}

function setupFileRmap (kernel: KernelVersion): RmapSetup {
  const sim = newSim(kernel)
  sim.createFile({ name: 'bench-shared', pages: 1 })
  let pfn: number | undefined
  for (let i = 0; i < RMAP_PROCS; i++) {
    const pid = sim.spawn({}).pid
    const vma = sim.mmap({ pid, pages: 1, prot: 'rw', shared: true, file: 'bench-shared' })
    const res = sim.read({ pid, addr: vma.start })
    if (res.pfn === undefined || (pfn !== undefined && res.pfn !== pfn)) throw new Error(`${kernel}: shared file read mapped ${String(res.pfn)}, expected ${String(pfn)}`)
    pfn = res.pfn
  }
  const mappings = sim.rmap(pfn as number).mappings.length
  if (mappings !== RMAP_PROCS) throw new Error(`${kernel}: file page has ${mappings} mappings, expected ${RMAP_PROCS}`)
  return { sim, pfn: pfn as number, mappings }
}

type EngineWalk = (sim: Simulator, pfn: number) => number
/** rmapWalk() without the facade's per-mapping views and sort (optional: internal API). */
async function loadEngineWalk (): Promise<EngineWalk | null> {
  try {
    const m = await import('../rmap.js') as { rmapWalk?: (k: unknown, pfn: number, visit: () => undefined) => number }
    const walk = m.rmapWalk
    if (typeof walk !== 'function') return null
    return (sim, pfn) => walk(sim.state, pfn, () => undefined)
  } catch { return null }
}

/** Per-walk times in ms: warm-up, then REPS batches; returns every timed sample. */
function timeWalks (fn: () => unknown): number[] {
  for (let i = 0; i < RMAP_WARMUP_WALKS; i++) fn()
  const samples: number[] = []
  for (let r = 0; r < REPS; r++) {
    fullGc()
    for (let i = 0; i < RMAP_WALKS_PER_REP; i++) {
      const t0 = performance.now()
      fn()
      samples.push(performance.now() - t0)
    }
  }
  return samples
}

// ---------------------------------------------------------------- main

interface KernelResult {
  fault?: { pages: number, ratesPerSec: number[], median: Summary }
  faultNoJournal?: { pages: number, ratesPerSec: number[], median: Summary }
  fork?: { pages: number, ptesCopied: number, forkMs: Summary, exitMs: Summary, ptesPerSec: number, samples: ForkSample[], parentBuildMs: number }
  heap?: { pages: number, deltaBytes: number, bytesPerPage: number, journalOps?: number }
  heapNoJournal?: { pages: number, deltaBytes: number, bytesPerPage: number }
  rmapAnon?: { mappings: number, facadeMs: Summary, engineMs?: Summary }
  rmapFile?: { mappings: number, facadeMs: Summary, engineMs?: Summary }
}

async function main (): Promise<void> {
  const started = performance.now()
  const loadBefore = os.loadavg()[0]
  const results: Record<string, KernelResult> = {}
  for (const k of kernels) results[k] = {}
  log(`engine-bench: kernels ${kernels.join(', ')}; sections ${[...sections].join(', ')}; ${WARMUP} warm-up + ${REPS} reps${quick ? ' (QUICK sizes)' : ''}`)

  // 1. faults: repetitions interleaved across kernels so drift hits both alike.
  if (sections.has('fault')) {
    const variants = HAS_JOURNAL ? [true, false] : [true]
    const rates: Record<string, number[]> = {}
    for (const k of kernels) for (const j of variants) rates[`${k}/${String(j)}`] = []
    for (let r = 0; r < WARMUP + REPS; r++) {
      for (const k of kernels) {
        for (const j of variants) {
          fullGc()
          const rate = faultRun(k, j)
          if (r >= WARMUP) rates[`${k}/${String(j)}`].push(rate)
          log(`  fault ${k}${j ? '' : ' (journal off)'} ${r < WARMUP ? 'warm-up' : `rep ${r - WARMUP + 1}`}: ${fmtRate(rate)}`)
        }
      }
    }
    for (const k of kernels) {
      const on = rates[`${k}/true`]
      results[k].fault = { pages: FAULT_PAGES, ratesPerSec: on, median: summarize(on) }
      if (HAS_JOURNAL) {
        const off = rates[`${k}/false`]
        results[k].faultNoJournal = { pages: FAULT_PAGES, ratesPerSec: off, median: summarize(off) }
      }
    }
  }

  // 2 + 4. the 1M-page parents (heap measured while they are built), then fork/exit repetitions.
  if (sections.has('fork') || sections.has('heap')) {
    const parents: Record<string, ForkParent> = {}
    for (const k of kernels) {
      fullGc()
      parents[k] = buildForkParent(k)
      results[k].heap = { pages: FORK_PAGES, deltaBytes: parents[k].heapDelta, bytesPerPage: parents[k].heapBytesPerPage, journalOps: parents[k].journalOps }
      log(`  heap ${k}: ${parents[k].heapBytesPerPage.toFixed(1)} bytes/page (${(parents[k].heapDelta / 2 ** 20).toFixed(1)} MiB for ${fmtInt(FORK_PAGES)} pages; built in ${fmtMs(parents[k].buildMs)}${parents[k].journalOps !== undefined ? `; journal holds ${fmtInt(parents[k].journalOps as number)} ops` : ''})`)
    }
    if (sections.has('heap') && HAS_JOURNAL) {
      for (const k of kernels) {
        fullGc()
        const p = buildForkParent(k, false)
        results[k].heapNoJournal = { pages: FORK_PAGES, deltaBytes: p.heapDelta, bytesPerPage: p.heapBytesPerPage }
        log(`  heap ${k} (journal off): ${p.heapBytesPerPage.toFixed(1)} bytes/page (${(p.heapDelta / 2 ** 20).toFixed(1)} MiB)`)
      }
    }
    if (sections.has('fork')) {
      const samples: Record<string, ForkSample[]> = {}
      for (const k of kernels) samples[k] = []
      for (let r = 0; r < WARMUP + REPS; r++) {
        for (const k of kernels) {
          const s = forkRun(parents[k], r > 0)
          if (r >= WARMUP) samples[k].push(s)
          log(`  fork ${k} ${r < WARMUP ? 'warm-up' : `rep ${r - WARMUP + 1}`}: fork ${fmtMs(s.forkMs)} (${fmtInt(s.ptesCopied)} PTEs), exit ${fmtMs(s.exitMs)}`)
        }
      }
      for (const k of kernels) {
        const forkMs = summarize(samples[k].map((s) => s.forkMs))
        const ptesCopied = samples[k][0].ptesCopied
        results[k].fork = {
          pages: FORK_PAGES,
          ptesCopied,
          forkMs,
          exitMs: summarize(samples[k].map((s) => s.exitMs)),
          ptesPerSec: ptesCopied / (forkMs.median / 1000),
          samples: samples[k],
          parentBuildMs: parents[k].buildMs
        }
      }
    }
    for (const k of kernels) delete parents[k]
  }

  // 3. rmap walks.
  if (sections.has('rmap')) {
    const engineWalk = await loadEngineWalk()
    for (const k of kernels) {
      for (const kind of ['anon', 'file'] as const) {
        fullGc()
        const setup = kind === 'anon' ? setupAnonRmap(k) : setupFileRmap(k)
        const facadeMs = summarize(timeWalks(() => setup.sim.rmap(setup.pfn)))
        let engineMs: Summary | undefined
        if (engineWalk !== null) {
          const n = engineWalk(setup.sim, setup.pfn)
          if (n !== setup.mappings) throw new Error(`${k}: engine rmapWalk matched ${n}, facade ${setup.mappings}`)
          engineMs = summarize(timeWalks(() => engineWalk(setup.sim, setup.pfn)))
        }
        const entry = { mappings: setup.mappings, facadeMs, engineMs }
        if (kind === 'anon') results[k].rmapAnon = entry
        else results[k].rmapFile = entry
        log(`  rmap ${kind} ${k}: ${setup.mappings} mappings, sim.rmap median ${fmtMsFine(facadeMs.median)}, mean ${fmtMsFine(facadeMs.mean)}${engineMs !== undefined ? `; engine walk median ${fmtMsFine(engineMs.median)}` : ''}`)
      }
    }
  }

  const totalS = (performance.now() - started) / 1000
  const loadAfter = os.loadavg()[0]
  // Other processes on a 2-core box skew every figure; say so next to them.
  const busy = loadBefore > 0.5 * os.cpus().length || loadAfter > 0.5 * os.cpus().length + 0.5 // the bench adds up to ~0.5 itself

  // ---------------------------------------------------------------- table
  type Row = [string, ...string[]]
  const rows: Row[] = []
  const mark = (ok: boolean): string => ok ? ' ok' : ' MISS'
  const cell = (k: KernelVersion, f: (r: KernelResult) => string | undefined): string => f(results[k]) ?? '-'
  const add = (label: string, f: (r: KernelResult) => string | undefined, target = ''): void => {
    rows.push([label, ...kernels.map((k) => cell(k, f)), target])
  }
  if (sections.has('fault')) {
    add(`anon write faults/s (${fmtInt(FAULT_PAGES)} pages, median)`, (r) => r.fault && fmtRate(r.fault.median.median))
    add('  min .. max', (r) => r.fault && `${fmtRate(r.fault.median.min)} .. ${fmtRate(r.fault.median.max)}`)
    if (HAS_JOURNAL) add('  same, op journal off (journalLimit 0)', (r) => r.faultNoJournal && fmtRate(r.faultNoJournal.median.median))
  }
  if (sections.has('fork')) {
    add(`fork, ${fmtInt(FORK_PAGES)} resident anon pages: time (median)`, (r) => r.fork && fmtMs(r.fork.forkMs.median))
    add('  min .. max', (r) => r.fork && `${fmtMs(r.fork.forkMs.min)} .. ${fmtMs(r.fork.forkMs.max)}`)
    add('  PTEs copied', (r) => r.fork && fmtInt(r.fork.ptesCopied))
    add('  PTEs copied/s', (r) => r.fork && fmtRate(r.fork.ptesPerSec) + mark(r.fork.ptesPerSec >= TARGETS.forkPtesPerSec), `>= ${fmtRate(TARGETS.forkPtesPerSec)}`)
    add('exit of the forked child (median)', (r) => r.fork && fmtMs(r.fork.exitMs.median))
    add('  PTEs zapped/s', (r) => r.fork && fmtRate(r.fork.ptesCopied / (r.fork.exitMs.median / 1000)))
  }
  if (sections.has('rmap')) {
    for (const kind of ['anon', 'file'] as const) {
      const get = (r: KernelResult): KernelResult['rmapAnon'] => kind === 'anon' ? r.rmapAnon : r.rmapFile
      const what = kind === 'anon' ? `anon page, parent + ${fmtInt(RMAP_PROCS)} forks` : `file page, MAP_SHARED by ${fmtInt(RMAP_PROCS)} procs`
      add(`sim.rmap() walk, ${what}: median`, (r) => { const e = get(r); return e && fmtMsFine(e.facadeMs.median) + mark(e.facadeMs.median < TARGETS.walkMs) }, `< ${TARGETS.walkMs} ms`)
      add('  mean / p95', (r) => { const e = get(r); return e && `${fmtMsFine(e.facadeMs.mean)} / ${fmtMsFine(e.facadeMs.p95)}` })
      add('  mappings found', (r) => { const e = get(r); return e && fmtInt(e.mappings) })
      add('  engine rmapWalk only (median)', (r) => { const e = get(r); return e?.engineMs && fmtMsFine(e.engineMs.median) })
    }
  }
  if (sections.has('heap')) {
    add(`heap bytes per resident page (${fmtInt(FORK_PAGES)} pages)`, (r) => r.heap && r.heap.bytesPerPage.toFixed(1) + mark(r.heap.bytesPerPage <= TARGETS.heapBytesPerPage), `<= ${TARGETS.heapBytesPerPage}`)
    add('  heap + arrayBuffers delta', (r) => r.heap && `${(r.heap.deltaBytes / 2 ** 20).toFixed(1)} MiB`)
    if (HAS_JOURNAL) {
      add('  of it, op journal (ops held)', (r) => r.heap && r.heapNoJournal && `${((r.heap.deltaBytes - r.heapNoJournal.deltaBytes) / 2 ** 20).toFixed(1)} MiB (${fmtInt(r.heap.journalOps ?? 0)})`)
      add('  bytes/page, op journal off', (r) => r.heapNoJournal && r.heapNoJournal.bytesPerPage.toFixed(1) + mark(r.heapNoJournal.bytesPerPage <= TARGETS.heapBytesPerPage), `<= ${TARGETS.heapBytesPerPage}`)
    }
  }
  const header: Row = ['measurement', ...kernels.map((k) => `Linux ${k}`), 'target']
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((r) => r[i].length)))
  const line = (r: Row): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd()
  const sep = widths.map((w) => '-'.repeat(w)).join('  ')
  const out = [
    '',
    `rmap-sim engine bench — node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${WARMUP} warm-up + ${REPS} reps, median unless noted${quick ? ', QUICK sizes' : ''}`,
    line(header), sep, ...rows.map(line), sep,
    `total ${totalS.toFixed(1)} s; 1-min load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after` +
      (busy ? ' — WARNING: the machine was busy with other work, figures are noisy (compare min .. max)' : ''),
    ''
  ]
  process.stdout.write(out.join('\n') + '\n')

  const jsonPath = process.env.BENCH_JSON
  if (jsonPath !== undefined && jsonPath !== '') {
    const doc = {
      bench: 'rmap-sim engine-bench',
      date: new Date().toISOString(),
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      quick,
      config: { reps: REPS, warmup: WARMUP, faultPages: FAULT_PAGES, forkPages: FORK_PAGES, rmapProcesses: RMAP_PROCS, rmapWarmupWalks: RMAP_WARMUP_WALKS, rmapWalksPerRep: RMAP_WALKS_PER_REP, maxFrames: MAX_FRAMES },
      targets: TARGETS,
      results,
      pass: Object.fromEntries(kernels.map((k) => {
        const r = results[k]
        return [k, {
          forkPtesPerSec: r.fork !== undefined ? r.fork.ptesPerSec >= TARGETS.forkPtesPerSec : null,
          rmapAnonWalk: r.rmapAnon !== undefined ? r.rmapAnon.facadeMs.median < TARGETS.walkMs : null,
          rmapFileWalk: r.rmapFile !== undefined ? r.rmapFile.facadeMs.median < TARGETS.walkMs : null,
          heapBytesPerPage: r.heap !== undefined ? r.heap.bytesPerPage <= TARGETS.heapBytesPerPage : null
        }]
      })),
      totalSeconds: totalS,
      loadAverage1m: { before: loadBefore, after: loadAfter }
    }
    writeFileSync(jsonPath, JSON.stringify(doc, null, 2) + '\n')
    log(`wrote ${jsonPath}`)
  }
}

await main()
