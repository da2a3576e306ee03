import { PAGE_SIZE, TASK_SIZE, pageDown } from './constants.js'
import { InvalidArgumentError } from './errors.js'
import { PG, ZERO_PFN, fileMapping } from './frames.js'
import { checkInvariants, type InvariantReport } from './invariants.js'
import type { FrameKind, KernelState, SimLimits } from './kernel-state.js'
import type { Mm } from './mm.js'
import type { KernelModel, KernelVersion } from './models/kernel-model.js'
import { checkPfn, fileNamed, processNamed, processOf } from './lookup.js'
import { decodePte, pteMapped, ptePfn, type DecodedPte } from './pte.js'
import { rmapWalk, type RmapStep } from './rmap.js'
import { takeSnapshot, type Snapshot } from './snapshot.js'
import {
  fileView, frameKindName, frameView, levelView, processView, vmaView,
  type FileView, type FrameKindName, type FrameView, type LevelView, type ProcessView, type VmaView
} from './views.js'

export interface RmapMappingView { pid: number, vmaId: number, addr: number, pte: DecodedPte }
export interface RmapResult { pfn: number, kind: FrameKind, model: KernelVersion, mappings: RmapMappingView[], trace?: RmapStep[] }

export interface PteEntryView { addr: number, pte: DecodedPte }

export interface TranslateResult { pid: number, addr: number, vmaId: number | null, levels: LevelView[], pfn: number | null, offset: number }

export interface FileDetail extends FileView {
  cache: Array<{ index: number, pfn: number, mapcount: number, dirty: boolean }>
  immap: Array<{ pid: number, vmaId: number, start: number, end: number, pgoff: number, shared: boolean }>
}

export interface FrameFilter { kind?: FrameKindName, mapped?: boolean, file?: string, after?: number, limit?: number }

export interface SimStats {
  kernel: KernelVersion
  processes: number
  vmas: number
  files: number
  anonVmas: number
  framesInUse: number
  framesByKind: Record<string, number>
  swapSlotsUsed: number
  events: number
  limits: SimLimits
}

/**
 * The read-only side of a simulated machine: views of processes, files, frames and page tables, the
 * rmap walk, the invariant report and the snapshot. Nothing here changes the state or makes events.
 */
export class Queries {
  constructor (readonly state: KernelState) {}

  get version (): KernelVersion { return this.state.model.version }
  get model (): KernelModel { return this.state.model }

  // ---------------------------------------------------------------- processes

  process (pid: number): Mm { return processOf(this.state, { pid }) }

  /** The pid of the live process with this name. */
  pidOf (name: string): number { return processNamed(this.state, name).pid }

  processes (): ProcessView[] {
    return [...this.state.processes.values()].sort((a, b) => a.pid - b.pid).map((mm) => processView(this.state, mm))
  }

  processInfo (pid: number): ProcessView & { vmaList: VmaView[] } {
    const mm = this.process(pid)
    return { ...processView(this.state, mm), vmaList: mm.vmas.map(vmaView) }
  }

  // ---------------------------------------------------------------- files

  files (): FileView[] {
    return [...this.state.files.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(fileView)
  }

  fileInfo (name: string): FileDetail {
    const f = fileNamed(this.state, name)
    const k = this.state
    return {
      ...fileView(f),
      cache: f.cachedIndexes().map((index) => {
        const pfn = f.cache.get(index) as number
        return { index, pfn, mapcount: k.mapcount(pfn), dirty: (k.pageFlags(pfn) & PG.dirty) !== 0 }
      }),
      immap: [...f.immap.values()].map((v) => ({ pid: v.mm.pid, vmaId: v.id, start: v.start, end: v.end, pgoff: v.pgoff, shared: v.isShared }))
    }
  }

  // ---------------------------------------------------------------- page tables

  translate (pid: number, addr: number): TranslateResult {
    const mm = this.process(pid)
    if (!Number.isSafeInteger(addr) || addr < 0 || addr >= this.state.model.taskSize) throw new InvalidArgumentError(`address ${String(addr)} is not a canonical user address`, 'EFAULT', { addr })
    const levels = mm.pgtable.walk(pageDown(addr))
    const last = levels[levels.length - 1]
    const pfn = last.level === 'pte' && pteMapped(last.value) ? ptePfn(last.value) : null
    return { pid, addr, vmaId: mm.vmaAt(addr)?.id ?? null, levels: levels.map((e) => levelView(e, this.state.model.pteLayout)), pfn, offset: addr % PAGE_SIZE }
  }

  /** Present, PROT_NONE, swap and migration PTEs in [from, to), at most `limit`, in address order. */
  ptes (pid: number, from = 0, to = TASK_SIZE, limit = 512): { entries: PteEntryView[], next: number | null } {
    const mm = this.process(pid)
    const entries: PteEntryView[] = []
    let next: number | null = null
    for (const vma of mm.vmasIn(from, to)) {
      if (next !== null) break
      mm.pgtable.forEachLeaf(Math.max(from, vma.start), Math.min(to, vma.end), (leaf, lo, hi, base) => {
        for (let i = lo; i < hi && next === null; i++) {
          if (leaf.ptes[i] === 0) continue
          if (entries.length === limit) { next = base + i * PAGE_SIZE; break }
          entries.push({ addr: base + i * PAGE_SIZE, pte: decodePte(leaf.ptes[i], this.state.model.pteLayout) })
        }
      })
    }
    return { entries, next }
  }

  // ---------------------------------------------------------------- frames

  frame (pfn: number): FrameView {
    checkPfn(this.state, pfn)
    return frameView(this.state, pfn)
  }

  frames (filter: FrameFilter = {}): { frames: FrameView[], next: number | null } {
    const k = this.state
    const space = filter.file !== undefined ? fileNamed(k, filter.file) : undefined
    const limit = filter.limit ?? 256
    const out: FrameView[] = []
    for (let pfn = Math.max(ZERO_PFN, (filter.after ?? ZERO_PFN - 1) + 1); pfn < k.frames.pfnLimit; pfn++) {
      const kind = frameKindName(k, k.frameKind(pfn))
      if (filter.kind !== undefined ? kind !== filter.kind : kind === 'free') continue
      if (filter.mapped !== undefined && (k.mapcount(pfn) > 0) !== filter.mapped) continue
      if (space !== undefined && k.pageMapping(pfn) !== fileMapping(space.id)) continue
      if (out.length === limit) return { frames: out, next: out[out.length - 1].pfn }
      out.push(frameView(k, pfn))
    }
    return { frames: out, next: null }
  }

  /** rmap_walk: every (pid, VMA, address, PTE) that maps the frame; with `trace`, every step. */
  rmap (pfn: number, trace = false): RmapResult {
    checkPfn(this.state, pfn)
    const steps: RmapStep[] | undefined = trace ? [] : undefined
    const mappings: RmapMappingView[] = []
    // The mappings of one page mostly hold the same PTE value (forks share it write-protected): each
    // distinct value is decoded once per walk.
    const decoded = new Map<number, DecodedPte>()
    rmapWalk(this.state, pfn, (m) => {
      const value = m.leaf.ptes[m.slot]
      let pte = decoded.get(value)
      if (pte === undefined) { pte = decodePte(value, this.state.model.pteLayout); decoded.set(value, pte) }
      mappings.push({ pid: m.pid, vmaId: m.vma.id, addr: m.addr, pte })
      return undefined
    }, steps)
    mappings.sort((a, b) => a.pid - b.pid || a.addr - b.addr)
    return { pfn, kind: this.state.frameKind(pfn), model: this.version, mappings, trace: steps }
  }

  // ---------------------------------------------------------------- whole state

  /** The complete state as versioned JSON (see snapshot.ts). */
  snapshot (): Snapshot { return takeSnapshot(this.state) }

  check (): InvariantReport { return checkInvariants(this.state) }

  stats (): SimStats {
    const k = this.state
    const byKind: Record<string, number> = {}
    for (let pfn = ZERO_PFN + 1; pfn < k.frames.pfnLimit; pfn++) {
      const kind = frameKindName(k, k.frameKind(pfn))
      if (kind !== 'free') byKind[kind] = (byKind[kind] ?? 0) + 1
    }
    let vmas = 0
    for (const mm of k.processes.values()) vmas += mm.vmas.length
    return {
      kernel: this.version,
      processes: k.processes.size,
      vmas,
      files: k.files.size,
      anonVmas: k.anonVmas.size,
      framesInUse: k.frames.inUse,
      framesByKind: byKind,
      swapSlotsUsed: k.swap.used,
      events: k.events.seq,
      limits: { ...k.limits }
    }
  }
}
