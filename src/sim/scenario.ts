import { applyOp, groupProbes } from './batch.js'
import { PAGE_SIZE, hex } from './constants.js'
import { PG, ZERO_PFN } from './frames.js'
import { opDef, unknownOp, type Op, type Scenario } from './ops/index.js'
import { pteIsSwap, pteMapped, ptePfn, swpOffset } from './pte.js'
import type { Simulator } from './simulator.js'
import { VM, type Vma } from './vma.js'

/**
 * The conformance scenario format of shared/conformance (README there): files, then ops in the
 * vocabulary of the op table (ops/index.ts), and the "truth" a run produces, in the same shape as the
 * Linux oracle's output.
 */

export type { Scenario }
export type ScenarioOp = Op

export interface TruthFrame {
  frame: string
  kind: 'anon' | 'file' | 'zero'
  mapcount: number
  kpagecount: number
  mappings: Array<{ proc: string, addr: string }>
  /** KPF_SWAPCACHE (truths recorded before it existed lack it, and then it is not compared). */
  swapcache?: boolean
  /** KPF_MLOCKED, likewise. */
  mlocked?: boolean
}

/** A VMA as /proc/PID/maps shows it: perms like "rw-p", offset in pages and file name for file VMAs. */
export interface TruthVma { start: string, end: string, perms: string, offset: number | null, file: string | null }

export interface Truth {
  name?: string | null
  processes: string[]
  frames: TruthFrame[]
  ptes: Record<string, Record<string, string>>
  probes: { same: string[][], unmapped: string[] }
  /** Every swap PTE per process, slots named S0, S1, ... (only which PTEs share a slot matters). */
  swap?: Record<string, Record<string, string>>
  /** Each process's VMAs whose start lies in the window, in address order. */
  vmas?: Record<string, TruthVma[]>
}

/** How the truth names a process: its name, or pid<N> for one that has none. */
const processLabel = (p: { pid: number, name: string | null }): string => p.name ?? `pid${p.pid}`

/** The labels of the live processes in the order they were created (pids only grow). */
export function processOrder (sim: Simulator): string[] {
  return sim.processes().map(processLabel)
}

/**
 * Runs a scenario on a fresh simulator: its files in name order, then its ops; a failing op (a
 * signal included) stops it with an error naming the op. Returns the live processes in creation order
 * and the probes it took (label -> PFN or null).
 */
export function runScenario (sim: Simulator, s: Scenario): { order: string[], probes: Map<string, number | null> } {
  const probes = new Map<string, number | null>()
  for (const [name, f] of Object.entries(s.files ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) sim.createFile({ name, pages: f.pages })
  s.ops.forEach((op, i) => {
    try {
      applyScenarioOp(sim, op, probes)
    } catch (err) {
      if (err instanceof Error) err.message = `op ${i} (${op.op}): ${err.message}`
      throw err
    }
  })
  return { order: processOrder(sim), probes }
}

/** One op of a scenario (a probe notes its frame in `probes`). */
export function applyScenarioOp (sim: Simulator, op: Op, probes: Map<string, number | null>): void {
  if (opDef(op.op) === undefined) throw unknownOp(op.op, 'scenario op')
  applyOp(sim, op, probes)
}

/**
 * The state in the oracle's truth format: every mapped PTE in each live process's VMAs inside the
 * window, frames named F0, F1, ... in order of first appearance, each frame's rmap walk.
 */
export function truthOf (sim: Simulator, order: string[], probes: Map<string, number | null>, window: [number, number] = [0x10000000, 0x100000000000]): Truth {
  const k = sim.state
  const names = new Map<number, string>()
  const ptes: Record<string, Record<string, string>> = {}
  const frames: TruthFrame[] = []
  const zeroMappings: Array<{ proc: string, addr: string }> = []
  const rank = (proc: string): number => order.indexOf(proc)
  const pidOfLabel = new Map(sim.processes().map((p) => [processLabel(p), p.pid]))
  const pidToName = new Map<number, string>()
  for (const proc of order) {
    const pid = pidOfLabel.get(proc)
    if (pid === undefined) throw new Error(`truthOf: no live process labelled ${proc}`)
    pidToName.set(pid, proc)
  }
  const swap: Record<string, Record<string, string>> = {}
  const slotNames = new Map<number, string>()
  const vmas: Record<string, TruthVma[]> = {}
  for (const proc of order) {
    const mm = sim.process(pidOfLabel.get(proc) as number)
    ptes[proc] = {}
    swap[proc] = {}
    vmas[proc] = []
    for (const vma of mm.vmas) {
      if (vma.start < window[0] || vma.start >= window[1]) continue
      vmas[proc].push(truthVma(vma))
      mm.pgtable.forEachLeaf(vma.start, vma.end, (leaf, from, to, base) => {
        for (let i = from; i < to; i++) {
          const pte = leaf.ptes[i]
          if (pteIsSwap(pte)) {
            const slot = swpOffset(pte)
            let label = slotNames.get(slot)
            if (label === undefined) { label = `S${slotNames.size}`; slotNames.set(slot, label) }
            swap[proc][hex(base + i * PAGE_SIZE)] = label
            continue
          }
          if (!pteMapped(pte)) continue
          const pfn = ptePfn(pte)
          const addr = base + i * PAGE_SIZE
          let name = names.get(pfn)
          if (name === undefined) {
            name = `F${names.size}`
            names.set(pfn, name)
            const kind = pfn === ZERO_PFN ? 'zero' : k.isAnonPage(pfn) ? 'anon' : 'file'
            const mappings: Array<{ proc: string, addr: string }> = []
            if (pfn !== ZERO_PFN) {
              sim.rmap(pfn).mappings.forEach((m) => { mappings.push({ proc: pidToName.get(m.pid) ?? `pid${m.pid}`, addr: hex(m.addr) }) })
            }
            frames.push({
              frame: name,
              kind,
              mapcount: pfn === ZERO_PFN ? 0 : k.mapcount(pfn),
              kpagecount: pfn === ZERO_PFN ? 0 : k.mapcount(pfn),
              mappings: pfn === ZERO_PFN ? zeroMappings : mappings,
              swapcache: pfn !== ZERO_PFN && (k.pageFlags(pfn) & PG.swapcache) !== 0,
              // A kernel without PG_mlocked (2.6.11) has no such flag to report.
              ...(k.model.tracksMlock ? { mlocked: (k.pageFlags(pfn) & PG.mlocked) !== 0 } : {})
            })
          }
          if (pfn === ZERO_PFN) zeroMappings.push({ proc, addr: hex(addr) })
          ptes[proc][hex(addr)] = name
        }
      })
    }
  }
  for (const f of frames) {
    f.mappings.sort((a, b) => rank(a.proc) - rank(b.proc) || Number(a.addr) - Number(b.addr))
    if (f.kind === 'zero') f.mapcount = f.mappings.length
  }
  return { name: undefined, processes: [...order], frames, ptes, probes: groupProbes(probes), swap, vmas }
}

/** show_map_vma(): perms r/w/x and s (VM_MAYSHARE) or p; a file VMA's offset (in pages) and name. */
function truthVma (vma: Vma): TruthVma {
  const f = vma.flags
  const perms = ((f & VM.READ) !== 0 ? 'r' : '-') + ((f & VM.WRITE) !== 0 ? 'w' : '-') + ((f & VM.EXEC) !== 0 ? 'x' : '-') + ((f & VM.MAYSHARE) !== 0 ? 's' : 'p')
  const file = vma.mapping !== null && vma.mapping.kind === 'file' ? vma.mapping : null
  return { start: hex(vma.start), end: hex(vma.end), perms, offset: file === null ? null : vma.pgoff, file: file === null ? null : file.name }
}

/**
 * Compares a run with Linux's truth as the conformance README says: the same present PTEs per
 * process, frames corresponding one to one with the same kinds, the same mapcount and rmap walk
 * result for every frame but the zero page, and probes grouped the same way. Returns the differences.
 */
export function compareTruth (expected: Truth, actual: Truth): string[] {
  const diffs: string[] = []
  const exp = JSON.stringify([...expected.processes].sort())
  const act = JSON.stringify([...actual.processes].sort())
  if (exp !== act) diffs.push(`live processes: expected ${exp}, got ${act}`)
  const pair = new Map<string, string>()
  const back = new Map<string, string>()
  for (const proc of expected.processes) {
    const e = expected.ptes[proc] ?? {}
    const a = actual.ptes[proc] ?? {}
    for (const addr of new Set([...Object.keys(e), ...Object.keys(a)])) {
      if (e[addr] === undefined) { diffs.push(`${proc} ${addr}: unexpected PTE (maps ${a[addr]})`); continue }
      if (a[addr] === undefined) { diffs.push(`${proc} ${addr}: PTE missing (Linux maps ${e[addr]})`); continue }
      const p = pair.get(e[addr]); const q = back.get(a[addr])
      if (p === undefined && q === undefined) { pair.set(e[addr], a[addr]); back.set(a[addr], e[addr]) } else if (p !== a[addr] || q !== e[addr]) {
        diffs.push(`${proc} ${addr}: Linux's ${e[addr]} does not correspond one to one with the simulator's ${a[addr]}`)
      }
    }
  }
  const af = new Map(actual.frames.map((f) => [f.frame, f]))
  const mapSet = (f: TruthFrame): string => f.mappings.map((m) => `${m.proc}@${m.addr}`).sort().join(',')
  for (const ef of expected.frames) {
    const name = pair.get(ef.frame)
    const f = name === undefined ? undefined : af.get(name)
    if (f === undefined) continue
    if (f.kind !== ef.kind) diffs.push(`${ef.frame}: kind ${f.kind}, Linux says ${ef.kind}`)
    for (const flag of FRAME_FLAGS) {
      const want = ef[flag]
      const got = f[flag]
      if (want === undefined) continue
      if (got === undefined) {
        if (want) diffs.push(`${ef.frame}: Linux says ${flag}, the simulator has no ${flag} flag`)
      } else if (got !== want) diffs.push(`${ef.frame}: ${flag} ${String(got)}, Linux says ${String(want)}`)
    }
    if (ef.kind === 'zero') continue
    if (f.mapcount !== ef.mapcount) diffs.push(`${ef.frame}: mapcount ${f.mapcount}, Linux says ${ef.mapcount}`)
    if (mapSet(f) !== mapSet(ef)) diffs.push(`${ef.frame}: rmap walk finds {${mapSet(f)}}, Linux maps {${mapSet(ef)}}`)
  }
  const groups = (t: Truth): string => JSON.stringify({ same: t.probes.same.map((g) => [...g].sort()).sort(), unmapped: [...t.probes.unmapped].sort() })
  if (groups(expected) !== groups(actual)) diffs.push(`probes: expected ${groups(expected)}, got ${groups(actual)}`)
  if (expected.swap !== undefined) diffs.push(...compareSwap(expected.swap, actual.swap))
  if (expected.vmas !== undefined) diffs.push(...compareVmas(expected.vmas, actual.vmas))
  return diffs
}

/** The frame flags a truth may carry (rule 8 of the conformance README). */
const FRAME_FLAGS = ['swapcache', 'mlocked'] as const

const normAddr = (a: string): string => hex(Number(a))

/** Rule 6: the same swap PTEs per process, and slots corresponding one to one (as frames do). */
function compareSwap (expected: Record<string, Record<string, string>>, actual: Truth['swap']): string[] {
  const count = Object.values(expected).reduce((n, m) => n + Object.keys(m).length, 0)
  if (actual === undefined) return count === 0 ? [] : [`the simulator reports no swap PTEs (Linux has ${count})`]
  const diffs: string[] = []
  const pair = new Map<string, string>()
  const back = new Map<string, string>()
  for (const [proc, entries] of Object.entries(expected)) {
    const e = new Map(Object.entries(entries).map(([a, s]) => [normAddr(a), s]))
    const a = new Map(Object.entries(actual[proc] ?? {}).map(([x, s]) => [normAddr(x), s]))
    for (const addr of [...new Set([...e.keys(), ...a.keys()])].sort((x, y) => Number(x) - Number(y))) {
      const want = e.get(addr)
      const got = a.get(addr)
      if (got === undefined) { diffs.push(`${proc} ${addr}: Linux has swap entry ${String(want)}, the simulator none`); continue }
      if (want === undefined) { diffs.push(`${proc} ${addr}: the simulator has a swap entry (${got}), Linux none`); continue }
      const p = pair.get(want) ?? got
      const q = back.get(got) ?? want
      pair.set(want, p)
      back.set(got, q)
      if (p !== got || q !== want) diffs.push(`${proc} ${addr}: Linux's swap slot ${want} does not correspond one to one with the simulator's ${got}`)
    }
  }
  return diffs
}

/** Rule 7: each process's VMA list in the window (start, end, perms, file offset, file). */
function compareVmas (expected: Record<string, TruthVma[]>, actual: Truth['vmas']): string[] {
  const count = Object.values(expected).reduce((n, v) => n + v.length, 0)
  if (actual === undefined) return count === 0 ? [] : [`the simulator reports no VMAs (Linux has ${count})`]
  const text = (vs: TruthVma[]): string => '[' + vs.map((v) => `${normAddr(v.start)}-${normAddr(v.end)} ${v.perms} ${v.file ?? '-'}@${String(v.offset)}`).join(', ') + ']'
  const diffs: string[] = []
  for (const [proc, vs] of Object.entries(expected)) {
    const want = text(vs)
    const got = text(actual[proc] ?? [])
    if (want !== got) diffs.push(`${proc} VMAs: Linux ${want}, the simulator ${got}`)
  }
  return diffs
}
