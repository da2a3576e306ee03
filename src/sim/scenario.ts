import { PAGE_SIZE, hex } from './constants.js'
import { InvalidArgumentError } from './errors.js'
import { ZERO_PFN } from './frames.js'
import { pteMapped, ptePfn } from './pte.js'
import type { Simulator } from './simulator.js'

/**
 * The conformance scenario format of shared/conformance (README there): named processes, fixed
 * addresses, ops spawn/mmap/read/write/fork/exit/munmap/mprotect/mremap/dontneed/probe, and the
 * "truth" a run produces, in the same shape as the Linux oracle's output.
 */

export type ScenarioOp =
  | { op: 'spawn', proc: string }
  | { op: 'mmap', proc: string, addr: string | number, pages: number, kind: 'anon' | 'file', shared?: boolean, file?: string, offset?: number, prot?: string }
  | { op: 'read' | 'write', proc: string, addr: string | number }
  | { op: 'fork', proc: string, child: string }
  | { op: 'exit', proc: string }
  | { op: 'munmap' | 'dontneed', proc: string, addr: string | number, pages: number }
  | { op: 'mprotect', proc: string, addr: string | number, pages: number, prot: string }
  | { op: 'mremap', proc: string, addr: string | number, pages: number, newAddr: string | number, newPages: number }
  | { op: 'probe', proc: string, addr: string | number, as: string }

export interface Scenario {
  name?: string
  description?: string
  files?: Record<string, { pages: number }>
  window?: [number, number]
  ops: ScenarioOp[]
}

export interface TruthFrame {
  frame: string
  kind: 'anon' | 'file' | 'zero'
  mapcount: number
  kpagecount: number
  mappings: Array<{ proc: string, addr: string }>
}

export interface Truth {
  name?: string | null
  processes: string[]
  frames: TruthFrame[]
  ptes: Record<string, Record<string, string>>
  probes: { same: string[][], unmapped: string[] }
}

export const toAddr = (a: string | number): number => {
  if (typeof a === 'number') return a
  const n = Number(a)
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`"${a}" is not an address`, 'EINVAL', { addr: a })
  return n
}

/** Runs a scenario on a fresh simulator; returns the probes it took (label -> PFN or null). */
export function runScenario (sim: Simulator, s: Scenario): { order: string[], probes: Map<string, number | null> } {
  const order: string[] = []
  const probes = new Map<string, number | null>()
  for (const [name, f] of Object.entries(s.files ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) sim.createFile(name, f.pages)
  s.ops.forEach((op, i) => {
    try {
      applyScenarioOp(sim, op, order, probes)
    } catch (err) {
      if (err instanceof Error) err.message = `op ${i} (${op.op}): ${err.message}`
      throw err
    }
  })
  return { order, probes }
}

export function applyScenarioOp (sim: Simulator, op: ScenarioOp, order: string[], probes: Map<string, number | null>): void {
  switch (op.op) {
    case 'spawn': sim.spawn(op.proc); order.push(op.proc); return
    case 'fork': sim.fork(sim.pidOf(op.proc), op.child); order.push(op.child); return
    case 'exit': sim.exit(sim.pidOf(op.proc)); order.splice(order.indexOf(op.proc), 1); return
    case 'mmap':
      sim.mmap(sim.pidOf(op.proc), {
        addr: toAddr(op.addr),
        fixed: 'noreplace',
        pages: op.pages,
        prot: op.prot ?? 'rw',
        shared: op.shared ?? false,
        file: op.kind === 'file' ? op.file : undefined,
        offset: op.offset ?? 0
      })
      return
    case 'read':
    case 'write': {
      const r = sim.access(sim.pidOf(op.proc), toAddr(op.addr), op.op)
      if (!r.ok) throw new InvalidArgumentError(`${op.op} at ${hex(toAddr(op.addr))} killed the process: ${r.signal} (${r.reason ?? ''})`, 'EFAULT')
      return
    }
    case 'munmap': sim.munmap(sim.pidOf(op.proc), toAddr(op.addr), op.pages); return
    case 'dontneed': sim.madvise(sim.pidOf(op.proc), toAddr(op.addr), op.pages, 'dontneed'); return
    case 'mprotect': sim.mprotect(sim.pidOf(op.proc), toAddr(op.addr), op.pages, op.prot); return
    case 'mremap':
      sim.mremap(sim.pidOf(op.proc), { addr: toAddr(op.addr), pages: op.pages, newAddr: toAddr(op.newAddr), newPages: op.newPages })
      return
    case 'probe': {
      const t = sim.translate(sim.pidOf(op.proc), toAddr(op.addr))
      probes.set(op.as, t.pfn)
      return
    }
    default:
      throw new InvalidArgumentError(`unknown scenario op "${(op as { op: string }).op}"`)
  }
}

/**
 * The state in the oracle's truth format: every mapped PTE in each live process's VMAs inside the
 * window, frames named F0, F1, ... in order of first appearance, each frame's rmap walk.
 */
export function truthOf (sim: Simulator, order: string[], probes: Map<string, number | null>, window: [number, number] = [0x10000000, 0x100000000000]): Truth {
  const k = sim.kernel
  const names = new Map<number, string>()
  const ptes: Record<string, Record<string, string>> = {}
  const frames: TruthFrame[] = []
  const zeroMappings: Array<{ proc: string, addr: string }> = []
  const rank = (proc: string): number => order.indexOf(proc)
  const pidToName = new Map(order.map((n) => [sim.pidOf(n), n]))
  for (const proc of order) {
    const mm = sim.process(sim.pidOf(proc))
    ptes[proc] = {}
    for (const vma of mm.vmas) {
      if (vma.start < window[0] || vma.start >= window[1]) continue
      mm.pgtable.forEachLeaf(vma.start, vma.end, (leaf, from, to, base) => {
        for (let i = from; i < to; i++) {
          const pte = leaf.ptes[i]
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
            frames.push({ frame: name, kind, mapcount: pfn === ZERO_PFN ? 0 : k.mapcount(pfn), kpagecount: pfn === ZERO_PFN ? 0 : k.mapcount(pfn), mappings: pfn === ZERO_PFN ? zeroMappings : mappings })
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
  const groups = new Map<number | null, string[]>()
  for (const [label, pfn] of probes) groups.set(pfn, [...(groups.get(pfn) ?? []), label])
  const same = [...groups.entries()].filter(([p]) => p !== null).map(([, g]) => g.sort()).sort((a, b) => (a.join() < b.join() ? -1 : 1))
  return { name: undefined, processes: [...order], frames, ptes, probes: { same, unmapped: (groups.get(null) ?? []).sort() } }
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
    if (ef.kind === 'zero') continue
    if (f.mapcount !== ef.mapcount) diffs.push(`${ef.frame}: mapcount ${f.mapcount}, Linux says ${ef.mapcount}`)
    if (mapSet(f) !== mapSet(ef)) diffs.push(`${ef.frame}: rmap walk finds {${mapSet(f)}}, Linux maps {${mapSet(ef)}}`)
  }
  const groups = (t: Truth): string => JSON.stringify({ same: t.probes.same.map((g) => [...g].sort()).sort(), unmapped: [...t.probes.unmapped].sort() })
  if (groups(expected) !== groups(actual)) diffs.push(`probes: expected ${groups(expected)}, got ${groups(actual)}`)
  return diffs
}
