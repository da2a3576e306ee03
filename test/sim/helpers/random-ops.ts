/**
 * Random operation sequences for the property tests (random.test.ts, determinism.test.ts): a seeded
 * generator that looks at the simulator's public state and proposes the next call (valid most of the
 * time, invalid on purpose now and then), plus helpers to run, print, parse and fingerprint calls, a
 * teardown, and a check of what the page tables mean (semanticViolations).
 *
 * A call is plain data ({ m, a }: the Simulator method and its arguments), so a failing sequence can
 * be printed as a list of `sim.method(args)` lines and replayed literally.
 */
import {
  PAGE_SIZE, SimError, Simulator, TASK_SIZE, ZERO_PFN, hex,
  type FrameView, type KernelVersion, type OpArgs, type SimLimits, type VmaView
} from '../../../src/sim/index.js'
import { Rng } from './prng.js'

/** mmap's fields, with any prot string: the generator also proposes invalid ones. */
type MmapOptions = Omit<OpArgs<'mmap'>, 'pid' | 'proc' | 'prot'> & { prot?: string }
type MremapOptions = Omit<OpArgs<'mremap'>, 'pid' | 'proc'>

export type CallName =
  | 'spawn' | 'fork' | 'exit' | 'createFile' | 'mmap' | 'munmap' | 'mprotect' | 'mremap' | 'madvise' | 'mlock' | 'munlock'
  | 'access' | 'referenced' | 'unmap' | 'mkclean' | 'migrate' | 'evict' | 'writeback' | 'dropCaches'
  | 'rmap' | 'translate' | 'frame' | 'fileInfo' | 'processInfo'

/** Calls that only look: they must not change anything, even when they succeed. */
export const READ_ONLY: ReadonlySet<CallName> = new Set<CallName>(['rmap', 'translate', 'frame', 'fileInfo', 'processInfo'])

export interface Call { m: CallName, a: unknown[] }

/** A generated call and the generator's label for it (e.g. "mremap.grow", "access.swapin"). */
export interface Step { call: Call, kind: string }

export const fmtCall = (c: Call): string => `sim.${c.m}(${c.a.map((x) => JSON.stringify(x)).join(', ')})`

/** Parses lines printed by fmtCall, also as TAP comments or numbered log lines; other lines are skipped. */
export function parseCalls (text: string): Call[] {
  const calls: Call[] = []
  for (const line of text.split('\n')) {
    const m = /^\s*#?\s*(?:\d+\s+)?sim\.(\w+)\((.*)\)/.exec(line.replace(/\s+\/\/.*$/, ''))
    if (m !== null) calls.push({ m: m[1] as CallName, a: JSON.parse(`[${m[2]}]`) as unknown[] })
  }
  return calls
}

/** Runs one call on the simulator and returns its result. */
export function invoke (sim: Simulator, c: Call): unknown {
  const a = c.a as any[]
  switch (c.m) {
    case 'spawn': return sim.spawn({ name: a[0] })
    case 'fork': return sim.fork({ pid: a[0], child: a[1] })
    case 'exit': sim.exit({ pid: a[0] }); return undefined
    case 'createFile': return sim.createFile({ name: a[0], pages: a[1] })
    case 'mmap': return sim.mmap({ pid: a[0], ...a[1] as OpArgs<'mmap'> })
    case 'munmap': sim.munmap({ pid: a[0], addr: a[1], pages: a[2] }); return undefined
    case 'mprotect': sim.mprotect({ pid: a[0], addr: a[1], pages: a[2], prot: a[3] }); return undefined
    case 'mremap': return sim.mremap({ pid: a[0], ...a[1] as MremapOptions })
    case 'madvise': sim.madvise({ pid: a[0], addr: a[1], pages: a[2], advice: a[3] }); return undefined
    case 'mlock': sim.mlock({ pid: a[0], addr: a[1], pages: a[2] }); return undefined
    case 'munlock': sim.munlock({ pid: a[0], addr: a[1], pages: a[2] }); return undefined
    case 'access': return sim[a[2] as 'read' | 'write' | 'exec']({ pid: a[0], addr: a[1] })
    case 'referenced': return sim.referenced({ pfn: a[0] })
    case 'unmap': return sim.unmap({ pfn: a[0] })
    case 'mkclean': return sim.mkclean({ pfn: a[0] })
    case 'migrate': return sim.migrate({ pfn: a[0] })
    case 'evict': return sim.evict({ file: a[0] })
    case 'writeback': return sim.writeback({ file: a[0] })
    case 'dropCaches': return sim.dropCaches()
    case 'rmap': return sim.rmap(a[0], a[1])
    case 'translate': return sim.translate(a[0], a[1])
    case 'frame': return sim.frame(a[0])
    case 'fileInfo': return sim.fileInfo(a[0])
    case 'processInfo': return sim.processInfo(a[0])
  }
}

/**
 * A cheap but complete picture of the observable state: stats, processes, every VMA, every PTE,
 * every frame and every file's page cache. Two equal fingerprints mean nothing visible differs.
 */
export function fingerprint (sim: Simulator): string {
  const procs = sim.processes()
  return JSON.stringify({
    stats: sim.stats(),
    procs,
    vmas: procs.map((p) => sim.processInfo(p.pid).vmaList),
    ptes: procs.map((p) => sim.ptes(p.pid, 0, TASK_SIZE, Number.MAX_SAFE_INTEGER).entries),
    frames: sim.frames({ limit: Number.MAX_SAFE_INTEGER }).frames,
    files: sim.files().map((f) => sim.fileInfo(f.name))
  })
}

/** An area of user space where fixed-address mappings crowd together (to split, merge and collide). */
export const ARENA = 0x10000000
export const ARENA_PAGES = 96

/**
 * Fractional page counts (1.5 pages is 6144 bytes, a whole number of bytes) must be refused by every
 * call that takes a length (it once reached the VMAs of munmap, mprotect, madvise and mremap).
 */
export const FRACTIONAL_RANGE_PAGES = true

const FILE_NAMES = ['fa', 'fb', 'fc', 'fd']
const PROTS = ['r', 'rw', 'none', 'rwx', 'rw', 'r', 'rx', 'w', 'x', 'wx']
const MPROTECTS = ['r', 'rw', 'none', 'rwx']
const BAD_PROTS = ['xr', 'rwxx', '', 'read']

export interface GenOptions {
  /** Live processes the generator aims for at most. */
  maxLive?: number
  /** Probability of a deliberately invalid argument. */
  invalid?: number
}

/** Proposes the next call from the current state. Reads the simulator through its public API only. */
export class Generator {
  readonly rng: Rng
  private readonly maxLive: number
  private readonly invalid: number
  private names = 0

  constructor (seed: number, opts: GenOptions = {}) {
    this.rng = new Rng(seed)
    this.maxLive = opts.maxLive ?? 5
    this.invalid = opts.invalid ?? 0.05
  }

  next (sim: Simulator): Step {
    const r = this.rng
    const procs = sim.processes()
    if (procs.length === 0) return this.spawn()
    const files = sim.files()
    const w = {
      spawn: procs.length < this.maxLive ? 3 : 0.3,
      fork: procs.length < this.maxLive ? 5 : 0.5,
      exit: procs.length > 2 ? 3 : 0.5,
      createFile: files.length < 2 ? 4 : 0.3,
      mmap: 14,
      munmap: 5,
      mprotect: 7,
      mremap: 6,
      madvise: 4,
      mlock: 2,
      access: 34,
      swapin: 6,
      frameop: 14,
      evict: 2,
      writeback: 1.5,
      dropCaches: 0.4,
      query: 3
    }
    const what = r.weighted(w)
    const pid = r.pick(procs).pid
    switch (what) {
      case 'spawn': return this.spawn(procs.map((p) => p.name).filter((n): n is string => n !== null))
      case 'fork': {
        if (r.chance(this.invalid)) return { call: { m: 'fork', a: [this.badPid(sim)] }, kind: 'fork.badpid' }
        const named = procs.find((p) => p.name !== null)
        if (named !== undefined && r.chance(0.05)) return { call: { m: 'fork', a: [pid, named.name] }, kind: 'fork.dupname' }
        return { call: { m: 'fork', a: r.chance(0.3) ? [pid, this.newName()] : [pid] }, kind: 'fork' }
      }
      case 'exit':
        if (r.chance(this.invalid)) return { call: { m: 'exit', a: [this.badPid(sim)] }, kind: 'exit.badpid' }
        return { call: { m: 'exit', a: [pid] }, kind: 'exit' }
      case 'createFile': {
        if (r.chance(this.invalid)) return { call: { m: 'createFile', a: [r.pick(['', 'a/b', 'fz']), r.pick([0, -1, 1.5])] }, kind: 'createFile.bad' }
        return { call: { m: 'createFile', a: [r.pick(FILE_NAMES), r.int(1, 12)] }, kind: 'createFile' }
      }
      case 'mmap': return this.mmap(sim, pid, files.map((f) => f.name))
      case 'munmap': return this.munmap(sim, pid)
      case 'mprotect': return this.mprotect(sim, pid)
      case 'mremap': return this.mremap(sim, pid)
      case 'madvise': return this.madvise(sim, pid)
      case 'mlock': {
        const vmas = this.vmas(sim, pid)
        const m = r.chance(0.35) ? 'munlock' : 'mlock'
        if (vmas.length === 0 || r.chance(0.15)) return { call: { m, a: [pid, ...this.wideRange(sim, pid)] }, kind: m + '.wide' }
        return { call: { m, a: [pid, ...this.subRange(r.pick(vmas))] }, kind: m }
      }
      case 'access': return this.access(sim, pid)
      case 'swapin': return this.swapin(sim, procs.map((p) => p.pid))
      case 'frameop': return this.frameOp(sim)
      case 'evict': return { call: { m: 'evict', a: [r.chance(this.invalid) || files.length === 0 ? 'nofile' : r.pick(files).name] }, kind: 'evict' }
      case 'writeback': return { call: { m: 'writeback', a: [r.chance(this.invalid) || files.length === 0 ? 'nofile' : r.pick(files).name] }, kind: 'writeback' }
      case 'dropCaches': return { call: { m: 'dropCaches', a: [] }, kind: 'dropCaches' }
      case 'query': return this.query(sim, pid, files.map((f) => f.name))
    }
  }

  private newName (): string { return `p${this.names++}` }

  private spawn (live: string[] = []): Step {
    const r = this.rng
    if (live.length > 0 && r.chance(0.05)) return { call: { m: 'spawn', a: [r.pick(live)] }, kind: 'spawn.dupname' }
    return { call: { m: 'spawn', a: r.chance(0.3) ? [this.newName()] : [] }, kind: 'spawn' }
  }

  private badPid (sim: Simulator): number {
    return sim.processes().reduce((m, p) => Math.max(m, p.pid), 0) + this.rng.int(1, 50)
  }

  private vmas (sim: Simulator, pid: number): VmaView[] { return sim.processInfo(pid).vmaList }

  /** A page-aligned address in the arena, or next to an existing VMA (to make neighbours merge). */
  private arenaAddr (sim: Simulator, pid: number, pages: number): number {
    const r = this.rng
    const vmas = this.vmas(sim, pid)
    if (vmas.length > 0 && r.chance(0.35)) {
      const v = r.pick(vmas)
      return r.chance(0.5) ? v.end : Math.max(0x10000, v.start - pages * PAGE_SIZE)
    }
    return ARENA + r.int(0, ARENA_PAGES - 1) * PAGE_SIZE
  }

  /** A bad address or length for the range calls. */
  private badRange (): [number, number] {
    const r = this.rng
    const bad: Array<[number, number]> = [[ARENA + 123, 1], [ARENA, 0], [ARENA, -2], [-PAGE_SIZE, 1], [TASK_SIZE - PAGE_SIZE, 4], [TASK_SIZE, 1]]
    if (FRACTIONAL_RANGE_PAGES) bad.push([ARENA, 1.5])
    return r.pick(bad)
  }

  /** [addr, pages] of a random sub-range of a random VMA (the whole of it now and then). */
  private subRange (v: VmaView): [number, number] {
    const r = this.rng
    if (r.chance(0.3)) return [v.start, v.pages]
    const first = r.int(0, v.pages - 1)
    return [v.start + first * PAGE_SIZE, r.int(1, v.pages - first)]
  }

  /** A range in the arena that may span several VMAs and holes. */
  private wideRange (sim: Simulator, pid: number): [number, number] {
    const r = this.rng
    const vmas = this.vmas(sim, pid)
    if (vmas.length > 0) {
      const v = r.pick(vmas)
      const start = Math.max(0x10000, v.start - r.int(0, 3) * PAGE_SIZE)
      return [start, r.int(1, v.pages + 6)]
    }
    return [ARENA + r.int(0, ARENA_PAGES - 1) * PAGE_SIZE, r.int(1, 8)]
  }

  private mmap (sim: Simulator, pid: number, files: string[]): Step {
    const r = this.rng
    const pages = r.int(1, 8)
    const o: MmapOptions = { pages, prot: r.pick(PROTS) }
    const kinds: string[] = []
    if (files.length > 0 && r.chance(0.45)) {
      o.file = r.pick(files)
      const size = sim.fileInfo(o.file).pages
      o.offset = r.chance(0.9) ? r.int(0, size - 1) : size + r.int(0, 2)
      kinds.push('file')
    } else kinds.push('anon')
    if (r.chance(0.4)) {
      o.shared = true
      kinds.push('shared')
      if (o.file === undefined && r.chance(0.3)) o.offset = r.int(1, 6)
    } else kinds.push('private')
    const placement = r.weighted({ any: 3, noreplace: 3, replace: 2, hint: 1 })
    if (placement !== 'any') {
      o.addr = this.arenaAddr(sim, pid, pages)
      o.fixed = placement
      kinds.push(placement)
    }
    if (r.chance(this.invalid)) {
      const bad = r.int(0, 3)
      if (bad === 0) o.prot = r.pick(BAD_PROTS)
      else if (bad === 1) o.pages = r.pick([0, -1, 1.5])
      else if (bad === 2) { o.addr = r.pick([ARENA + 1, 0x1000, TASK_SIZE - PAGE_SIZE]); o.fixed = 'noreplace' } else o.file = 'nofile'
      kinds.push('bad')
    }
    return { call: { m: 'mmap', a: [pid, o] }, kind: 'mmap.' + kinds.join('.') }
  }

  private munmap (sim: Simulator, pid: number): Step {
    const r = this.rng
    const vmas = this.vmas(sim, pid)
    if (r.chance(this.invalid)) return { call: { m: 'munmap', a: [pid, ...this.badRange()] }, kind: 'munmap.bad' }
    if (vmas.length === 0 || r.chance(0.2)) return { call: { m: 'munmap', a: [pid, ...this.wideRange(sim, pid)] }, kind: 'munmap.wide' }
    const v = r.pick(vmas)
    const [addr, pages] = this.subRange(v)
    return { call: { m: 'munmap', a: [pid, addr, pages] }, kind: addr === v.start && pages === v.pages ? 'munmap.whole' : 'munmap.partial' }
  }

  private mprotect (sim: Simulator, pid: number): Step {
    const r = this.rng
    const vmas = this.vmas(sim, pid)
    const prot = r.chance(this.invalid) ? r.pick(BAD_PROTS) : r.pick(MPROTECTS)
    if (r.chance(this.invalid)) return { call: { m: 'mprotect', a: [pid, ...this.badRange(), prot] }, kind: 'mprotect.bad' }
    if (vmas.length === 0 || r.chance(0.2)) return { call: { m: 'mprotect', a: [pid, ...this.wideRange(sim, pid), prot] }, kind: 'mprotect.wide' }
    return { call: { m: 'mprotect', a: [pid, ...this.subRange(r.pick(vmas)), prot] }, kind: 'mprotect.' + prot }
  }

  private mremap (sim: Simulator, pid: number): Step {
    const r = this.rng
    const vmas = this.vmas(sim, pid)
    if (vmas.length === 0 || r.chance(this.invalid)) {
      const [addr, pages] = vmas.length === 0 ? [ARENA, 1] : this.badRange()
      return { call: { m: 'mremap', a: [pid, { addr, pages, newPages: r.pick([1, 0, -1]) }] }, kind: 'mremap.bad' }
    }
    const v = r.pick(vmas)
    const [addr, pages] = r.chance(0.7) ? [v.start, v.pages] : this.subRange(v)
    const o: MremapOptions = { addr, pages, newPages: pages }
    const how = r.weighted({ grow: 4, shrink: 3, same: 0.5, move: 3 })
    if (how === 'grow') o.newPages = pages + r.int(1, 6)
    else if (how === 'shrink') o.newPages = pages > 1 ? r.int(1, pages - 1) : 1
    else if (how === 'move') {
      o.newPages = Math.max(1, pages + r.int(-2, 3))
      o.newAddr = r.chance(0.3) ? this.arenaAddr(sim, pid, o.newPages) : ARENA + r.int(0, ARENA_PAGES - 1) * PAGE_SIZE
    }
    if (r.chance(0.2)) o.mayMove = false
    return { call: { m: 'mremap', a: [pid, o] }, kind: 'mremap.' + how }
  }

  private madvise (sim: Simulator, pid: number): Step {
    const r = this.rng
    const vmas = this.vmas(sim, pid)
    const advice = r.chance(this.invalid) ? 'willneed' : r.weighted({ dontneed: 6, pageout: 3, free: 2, dontfork: 1, dofork: 1, wipeonfork: 1, keeponfork: 1, populate_read: 1, populate_write: 1 })
    if (vmas.length === 0 || r.chance(0.15)) return { call: { m: 'madvise', a: [pid, ...this.wideRange(sim, pid), advice] }, kind: 'madvise.wide' }
    return { call: { m: 'madvise', a: [pid, ...this.subRange(r.pick(vmas)), advice] }, kind: 'madvise.' + advice }
  }

  private access (sim: Simulator, pid: number): Step {
    const r = this.rng
    const op = r.weighted({ read: 4, write: 5, exec: 1 })
    const vmas = this.vmas(sim, pid)
    const where = r.chance(this.invalid) ? 'bad' : vmas.length === 0 ? 'anywhere' : r.weighted({ inside: 55, mapped: 30, anywhere: 15 })
    let addr: number
    switch (where) {
      case 'bad':
        addr = r.pick([-1, TASK_SIZE, TASK_SIZE + 5, 1.5])
        break
      case 'mapped':
      case 'inside': {
        // 'mapped': a page that is mapped already (write-protect faults: COW, write-notify; A/D bits).
        const present = where === 'mapped' ? sim.ptes(pid, 0, TASK_SIZE, Number.MAX_SAFE_INTEGER).entries.filter((e) => e.pte.kind === 'present' || e.pte.kind === 'protnone') : []
        if (present.length > 0) {
          addr = r.pick(present).addr + r.int(0, PAGE_SIZE - 1)
        } else {
          const v = r.pick(vmas)
          addr = v.start + r.int(0, v.pages - 1) * PAGE_SIZE + r.int(0, PAGE_SIZE - 1)
        }
        break
      }
      default:
        addr = r.chance(0.5) ? ARENA + r.int(0, ARENA_PAGES - 1) * PAGE_SIZE + r.int(0, 8) : r.int(0, 2 ** 20) * PAGE_SIZE
    }
    return { call: { m: 'access', a: [pid, addr, op] }, kind: `access.${op}.${where}` }
  }

  /** An access to a page that is swapped out (a swap-in), when there is one. */
  private swapin (sim: Simulator, pids: number[]): Step {
    const r = this.rng
    const swapped: Array<[number, number]> = []
    for (const pid of pids) {
      for (const e of sim.ptes(pid, 0, TASK_SIZE, Number.MAX_SAFE_INTEGER).entries) if (e.pte.kind === 'swap') swapped.push([pid, e.addr])
    }
    if (swapped.length === 0) return this.frameOp(sim, 'unmap')
    const [pid, addr] = r.pick(swapped)
    const op = r.weighted({ read: 5, write: 5, exec: 1 })
    return { call: { m: 'access', a: [pid, addr, op] }, kind: `access.${op}.swapin` }
  }

  /** A call that only looks (rmap with a trace, a page walk, a frame, a file, a process). */
  private query (sim: Simulator, pid: number, files: string[]): Step {
    const r = this.rng
    const what = r.weighted({ rmap: 4, translate: 3, frame: 1, fileInfo: 1, processInfo: 1 })
    const frames = sim.frames({ limit: Number.MAX_SAFE_INTEGER }).frames
    const pfn = r.chance(this.invalid) ? frames[frames.length - 1].pfn + 1 : r.pick(frames).pfn
    switch (what) {
      case 'rmap': return { call: { m: 'rmap', a: [pfn, r.chance(0.7)] }, kind: 'query.rmap' }
      case 'frame': return { call: { m: 'frame', a: [pfn] }, kind: 'query.frame' }
      case 'fileInfo': return { call: { m: 'fileInfo', a: [files.length === 0 || r.chance(this.invalid) ? 'nofile' : r.pick(files)] }, kind: 'query.fileInfo' }
      case 'processInfo': return { call: { m: 'processInfo', a: [r.chance(this.invalid) ? this.badPid(sim) : pid] }, kind: 'query.processInfo' }
      case 'translate': {
        const vmas = this.vmas(sim, pid)
        const addr = vmas.length > 0 && r.chance(0.8)
          ? (({ start, pages }) => start + r.int(0, pages - 1) * PAGE_SIZE + r.int(0, PAGE_SIZE - 1))(r.pick(vmas))
          : r.chance(this.invalid * 4) ? TASK_SIZE : ARENA + r.int(0, ARENA_PAGES - 1) * PAGE_SIZE
        return { call: { m: 'translate', a: [pid, addr] }, kind: 'query.translate' }
      }
    }
  }

  private frameOp (sim: Simulator, only?: 'unmap'): Step {
    const r = this.rng
    const m = only ?? r.weighted({ referenced: 2, unmap: 4, mkclean: 2, migrate: 3 })
    let pfn: number
    let kind: string
    const mapped = sim.frames({ mapped: true, limit: Number.MAX_SAFE_INTEGER }).frames.filter((f) => f.kind !== 'zero')
    if (r.chance(this.invalid)) {
      const all = sim.frames({ limit: Number.MAX_SAFE_INTEGER }).frames
      pfn = r.chance(0.5) ? r.pick([0, 1.5, -3, all[all.length - 1].pfn + r.int(1, 5)]) : r.pick(all).pfn
      kind = 'any'
    } else if (mapped.length > 0 && r.chance(0.85)) {
      pfn = r.pick(mapped).pfn
      kind = 'mapped'
    } else {
      const live = sim.frames({ limit: Number.MAX_SAFE_INTEGER }).frames
      pfn = r.pick(live).pfn
      kind = 'live'
    }
    return { call: { m, a: [pfn] }, kind: `${m}.${kind}` }
  }
}

export interface RunConfig {
  kernel: KernelVersion
  seed: number
  steps: number
  limits?: Partial<SimLimits>
  gen?: GenOptions
}

/** The first two calls of every sequence: two files to map. */
export const PRELUDE: Call[] = [{ m: 'createFile', a: ['fa', 8] }, { m: 'createFile', a: ['fb', 3] }]

/** The outcome of a call in a form that can be compared across runs. */
export function outcomeOf (fn: () => unknown): { ok: true, value: unknown } | { ok: false, error: SimError } {
  try {
    return { ok: true, value: fn() }
  } catch (err) {
    if (err instanceof SimError) return { ok: false, error: err }
    throw err
  }
}

/**
 * Teardown at the end of a sequence: every process exits (lowest pid first), every file with dirty
 * pages is written back (writeback), and the caches are dropped. With `reclaimSwapCache`, anonymous
 * pages left in the swap cache with no mapping are first reclaimed with unmap() (what kswapd would do
 * to them; see the known engine bug in random.test.ts). Returns the calls it made.
 */
export function teardown (sim: Simulator, reclaimSwapCache = false): { calls: Call[], reclaimed: number } {
  const calls: Call[] = []
  const run = (c: Call): void => { calls.push(c); invoke(sim, c) }
  for (const p of sim.processes()) run({ m: 'exit', a: [p.pid] })
  let reclaimed = 0
  if (reclaimSwapCache) {
    for (const f of sim.frames({ limit: Number.MAX_SAFE_INTEGER }).frames) {
      if (f.swapSlot !== null && f.mapcount === 0) { run({ m: 'unmap', a: [f.pfn] }); reclaimed++ }
    }
  }
  for (const f of sim.files()) if (sim.fileInfo(f.name).cache.some((page) => page.dirty)) run({ m: 'writeback', a: [f.name] })
  run({ m: 'dropCaches', a: [] })
  return { calls, reclaimed }
}

/**
 * What the page tables must mean, checked through the public API only (the engine's own check()
 * looks at the bookkeeping; this looks at the semantics): every present PTE agrees with its VMA's
 * protection, maps the kind of page its VMA may map (the zero page only in private anonymous memory,
 * the right page-cache page of the right file in a file or shmem mapping, anonymous pages only in
 * private mappings), and a writable PTE of a private mapping maps a page no one else maps (COW
 * isolation). PROT_NONE VMAs hold only PROT_NONE entries; swap entries are only in private memory.
 */
export function semanticViolations (sim: Simulator): string[] {
  const out: string[] = []
  const fail = (msg: string): void => { if (out.length < 20) out.push(msg) }
  const frames = new Map<number, FrameView>()
  const frame = (pfn: number): FrameView => {
    let f = frames.get(pfn)
    if (f === undefined) { f = sim.frame(pfn); frames.set(pfn, f) }
    return f
  }
  for (const p of sim.processes()) {
    const vmas = sim.processInfo(p.pid).vmaList
    let vi = 0
    for (const { addr, pte } of sim.ptes(p.pid, 0, TASK_SIZE, Number.MAX_SAFE_INTEGER).entries) {
      while (vi < vmas.length && vmas[vi].end <= addr) vi++
      const v = vmas[vi]
      const where = `pid ${p.pid} ${hex(addr)} (vma#${v.id} ${v.prot}${v.shared ? ' shared' : ''}${v.file !== null ? ' ' + v.file : ''})`
      const index = v.pgoff + (addr - v.start) / PAGE_SIZE
      if (pte.kind === 'swap') {
        if (v.shared) fail(`${where}: a swap entry in a shared mapping`)
        continue
      }
      if (pte.kind === 'protnone') {
        if (v.prot !== 'none') fail(`${where}: a PROT_NONE entry in a ${v.prot} mapping`)
      } else if (pte.kind !== 'present') {
        fail(`${where}: a ${pte.kind} entry`)
        continue
      } else if (v.prot === 'none') fail(`${where}: a present entry in a PROT_NONE mapping`)
      const pfn = pte.pfn as number
      if (pte.writable === true && !v.prot.includes('w')) fail(`${where}: a writable PTE in a mapping without PROT_WRITE`)
      if (pte.kind === 'present' && pte.noExec === v.prot.includes('x')) fail(`${where}: NX is ${String(pte.noExec)} in a ${v.prot} mapping`)
      if (pfn === ZERO_PFN) {
        if (v.file !== null || v.shared) fail(`${where}: the zero page in a file or shared mapping`)
        if (pte.writable === true) fail(`${where}: the zero page mapped writable`)
        continue
      }
      const f = frame(pfn)
      if (f.kind === 'anon') {
        if (v.shared) fail(`${where}: anonymous PFN ${pfn} in a shared mapping`)
        if (pte.writable === true && f.mapcount !== 1) fail(`${where}: writable private PTE maps PFN ${pfn}, which ${f.mapcount} PTEs map (COW broken)`)
      } else if (f.kind === 'file' || f.kind === 'shmem') {
        if (f.mapping.name !== v.file) fail(`${where}: maps PFN ${pfn} of ${String(f.mapping.name)}`)
        else if (f.index !== index) fail(`${where}: maps page ${f.index} of ${v.file}, but the VMA puts page ${index} there`)
        if (!v.shared && pte.writable === true) fail(`${where}: a private mapping maps page-cache PFN ${pfn} writable`)
      } else fail(`${where}: maps PFN ${pfn} of kind ${f.kind}`)
    }
  }
  return out
}
