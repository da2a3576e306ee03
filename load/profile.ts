import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

/** Summarises a V8 .cpuprofile (node --cpu-prof): self and inclusive time per function. */

interface CpuNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }
interface CpuProfile { nodes: CpuNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

export interface HotFunction { name: string, where: string, selfMs: number, selfPct: number, totalMs: number, totalPct: number }

export interface ProfileSummary {
  file: string
  durationMs: number
  idlePct: number
  gcPct: number
  topSelf: HotFunction[]
  /** Project code (dist/) by inclusive time. */
  topProjectTotal: HotFunction[]
}

function where (root: string, url: string, line: number): string {
  if (url === '') return '(native)'
  const path = url.startsWith('file://') ? url.slice('file://'.length) : url
  const rel = path.startsWith(root) ? relative(root, path) : path.replace(/^.*node_modules\//, 'node_modules/')
  return `${rel}:${line + 1}`
}

export function newestProfile (dir: string): string | undefined {
  if (!existsSync(dir)) return undefined
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f))
  files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
  return files[0]
}

export function summarizeProfile (file: string, root: string, top = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map<number, CpuNode>()
  const parent = new Map<number, number>()
  for (const n of p.nodes) byId.set(n.id, n)
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const selfUs = new Map<number, number>()
  let total = 0
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0
    total += dt
    selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + dt)
  }
  const key = (n: CpuNode): string => `${n.callFrame.functionName || '(anonymous)'}\t${where(root, n.callFrame.url, n.callFrame.lineNumber)}`
  const self = new Map<string, number>()
  const incl = new Map<string, number>()
  for (const [id, us] of selfUs) {
    const n = byId.get(id) as CpuNode
    self.set(key(n), (self.get(key(n)) ?? 0) + us)
    // inclusive: once per distinct function on the stack
    const seen = new Set<string>()
    let cur: number | undefined = id
    while (cur !== undefined) {
      const k = key(byId.get(cur) as CpuNode)
      if (!seen.has(k)) { seen.add(k); incl.set(k, (incl.get(k) ?? 0) + us) }
      cur = parent.get(cur)
    }
  }
  const fn = (k: string, selfV: number, inclV: number): HotFunction => {
    const [name, at] = k.split('\t')
    return { name, where: at, selfMs: selfV / 1000, selfPct: (100 * selfV) / total, totalMs: inclV / 1000, totalPct: (100 * inclV) / total }
  }
  const idle = self.get('(idle)\t(native)') ?? 0
  const gc = self.get('(garbage collector)\t(native)') ?? 0
  const topSelf = [...self.entries()].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => fn(k, v, incl.get(k) ?? 0))
  const topProjectTotal = [...incl.entries()].filter(([k]) => k.includes('\tdist/')).sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => fn(k, self.get(k) ?? 0, v))
  return { file: relative(root, file), durationMs: total / 1000, idlePct: (100 * idle) / total, gcPct: (100 * gc) / total, topSelf, topProjectTotal }
}
