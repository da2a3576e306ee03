import { PAGE_SIZE, TASK_SIZE, hex, pageDown } from './constants.js'
import { ConflictError, InvalidArgumentError, LimitError, NotFoundError } from './errors.js'
import type { Cause, EventListener, FaultPath, PteListener } from './events.js'
import { checkProcessRoom, exitMm, fork, spawn } from './fork.js'
import { PG, ZERO_PFN, fileMapping } from './frames.js'
import { checkInvariants, type InvariantReport } from './invariants.js'
import { DEFAULT_LIMITS, Kernel, type FrameKind, type SimLimits } from './kernel.js'
import { checkMadvise, doMadvise, type Advice } from './madvise.js'
import { handleMmFault, zapRange, type AccessOp } from './memory.js'
import type { Mm } from './mm.js'
import { checkMmap, checkMunmap, doMmap, doMunmap, type FixedMode } from './mmap.js'
import { KERNEL_VERSIONS, type KernelModel, type KernelVersion } from './models/kernel-model.js'
import { linux2611 } from './models/linux-2.6.11.js'
import { linux618 } from './models/linux-6.18.js'
import { checkMprotect, doMprotect } from './mprotect.js'
import { checkMremap, doMremap } from './mremap.js'
import { decodePte, pteMapped, ptePfn, type DecodedPte } from './pte.js'
import type { Op } from './ops.js'
import { restoreSnapshot, takeSnapshot, type Snapshot } from './snapshot.js'
import { evictFile, migratePage, pageMkclean, pageReferenced, rmapWalk, tryToUnmap, type RmapStep, type UnmapResult } from './rmap.js'
import {
  fileView, frameView, levelView, processView, vmaView,
  type FileView, type FrameView, type LevelView, type ProcessView, type VmaView
} from './views.js'
import { protToVmFlags } from './vma.js'

export const MODELS: Record<KernelVersion, KernelModel> = { '2.6.11': linux2611, 6.18: linux618 }

export interface SimulatorOptions {
  kernel?: KernelVersion
  limits?: Partial<SimLimits>
  /** How many ops the journal keeps; past it the journal is marked truncated (default 100,000). */
  journalLimit?: number
}

export interface MmapOptions {
  addr?: number
  fixed?: FixedMode
  pages: number
  /** "r", "rw", "rx", "rwx", "w", "x", "wx" or "none". */
  prot?: string
  shared?: boolean
  /** A file name; without it the mapping is anonymous. */
  file?: string
  /** File offset in pages. */
  offset?: number
}

export interface MremapOptions { addr: number, pages: number, newPages: number, newAddr?: number, mayMove?: boolean }

export interface AccessResult {
  pid: number
  addr: number
  op: AccessOp
  ok: boolean
  path: FaultPath
  signal?: 'SIGSEGV' | 'SIGBUS'
  siCode?: string
  reason?: string
  vmaId?: number
  pteBefore: DecodedPte
  pte: DecodedPte
  pfn?: number
  copiedFrom?: number
}

export interface RmapMappingView { pid: number, vmaId: number, addr: number, pte: DecodedPte }
export interface RmapResult { pfn: number, kind: FrameKind, model: KernelVersion, mappings: RmapMappingView[], trace?: RmapStep[] }

export interface PteEntryView { addr: number, pte: DecodedPte }

export interface FileDetail extends FileView {
  cache: Array<{ index: number, pfn: number, mapcount: number, dirty: boolean }>
  immap: Array<{ pid: number, vmaId: number, start: number, end: number, pgoff: number, shared: boolean }>
}

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

const PROT_RE = /^(none|r?w?x?)$/

export function parseProt (prot: string): number {
  if (prot === '' || !PROT_RE.test(prot)) throw new InvalidArgumentError(`prot "${prot}" is not one of r, w, x in that order (e.g. "rw", "rx") or "none"`, 'EINVAL', { prot })
  return protToVmFlags(prot)
}

/**
 * The simulator's public face: one simulated machine with one kernel model. Every method validates
 * before it changes anything, so a thrown SimError leaves the state exactly as it was; every change
 * is reported, in order, to the event subscribers before the method returns.
 */
export class Simulator {
  readonly kernel: Kernel
  /** Tag put on the cause of every event, e.g. the id of the HTTP request being served. */
  tag: string | undefined
  /** Every successful mutation, in order, in the op vocabulary (ops.ts): replaying it rebuilds the state. */
  readonly journal: Op[] = []
  /** The journal stopped recording at its limit (or the state was restored from a snapshot). */
  journalTruncated = false
  /** True when the state came from a snapshot: the journal then starts from that snapshot. */
  fromSnapshot = false
  private readonly journalLimit: number

  constructor (opts: SimulatorOptions = {}) {
    const version = opts.kernel ?? '2.6.11'
    if (!KERNEL_VERSIONS.includes(version)) throw new InvalidArgumentError(`unknown kernel model "${String(version)}"`)
    this.kernel = new Kernel(MODELS[version], { ...DEFAULT_LIMITS, ...opts.limits })
    this.journalLimit = opts.journalLimit ?? 100_000
  }

  private record (op: Op | (() => Op)): void {
    if (this.journal.length >= this.journalLimit) { this.journalTruncated = true; return }
    this.journal.push(typeof op === 'function' ? op() : op)
  }

  get version (): KernelVersion { return this.kernel.model.version }
  get model (): KernelModel { return this.kernel.model }

  /** Every event, in order; with `pte`, PTE events go there as plain values instead of objects. */
  subscribe (fn: EventListener, pte?: PteListener): () => void { return this.kernel.events.subscribe(fn, pte) }

  private run<T> (op: string, pid: number | undefined, fn: (cause: Cause) => T): T {
    const cause: Cause = { op, pid, tag: this.tag }
    return this.kernel.withCause(cause, () => fn(cause))
  }

  // ---------------------------------------------------------------- processes

  process (pid: number): Mm {
    const mm = this.kernel.processes.get(pid)
    if (mm === undefined) throw new NotFoundError(`no process with pid ${pid}`, 'ESRCH', { pid })
    return mm
  }

  /** The live process with this name. */
  pidOf (name: string): number {
    for (const mm of this.kernel.processes.values()) if (mm.name === name) return mm.pid
    throw new NotFoundError(`no live process named "${name}"`, 'ESRCH', { name })
  }

  private checkName (name: string | undefined): void {
    if (name === undefined) return
    for (const mm of this.kernel.processes.values()) {
      if (mm.name === name) throw new ConflictError(`a live process is already named "${name}" (pid ${mm.pid})`, 'EEXIST', { name })
    }
  }

  spawn (name?: string): ProcessView {
    this.checkName(name)
    const v = processView(this.run('spawn', undefined, () => spawn(this.kernel, name ?? null)))
    this.record(name === undefined ? { op: 'spawn' } : { op: 'spawn', name })
    return v
  }

  fork (pid: number, childName?: string): ProcessView {
    const parent = this.process(pid)
    this.checkName(childName)
    checkProcessRoom(this.kernel)
    const v = processView(this.run('fork', pid, () => fork(this.kernel, parent, childName ?? null)))
    this.record(childName === undefined ? { op: 'fork', pid } : { op: 'fork', pid, child: childName })
    return v
  }

  exit (pid: number): void {
    const mm = this.process(pid)
    this.run('exit', pid, () => exitMm(this.kernel, mm, (vma) => { zapRange(this.kernel, mm, vma, vma.start, vma.end) }))
    this.record({ op: 'exit', pid })
  }

  processes (): ProcessView[] {
    return [...this.kernel.processes.values()].sort((a, b) => a.pid - b.pid).map(processView)
  }

  processInfo (pid: number): ProcessView & { vmaList: VmaView[] } {
    const mm = this.process(pid)
    return { ...processView(mm), vmaList: mm.vmas.map(vmaView) }
  }

  // ---------------------------------------------------------------- files

  createFile (name: string, pages: number): FileView {
    const k = this.kernel
    if (typeof name !== 'string' || name.length === 0 || name.length > 255 || name.includes('/')) throw new InvalidArgumentError('a file name is 1 to 255 characters without "/"', 'EINVAL', { name })
    if (!Number.isSafeInteger(pages) || pages <= 0) throw new InvalidArgumentError('a file has at least one page', 'EINVAL', { pages })
    if (pages > k.limits.maxFilePages) throw new LimitError(`a file may have at most ${k.limits.maxFilePages} pages`, { pages })
    if (k.files.has(name)) throw new ConflictError(`file "${name}" exists`, 'EEXIST', { name })
    if (k.files.size >= k.limits.maxFiles) throw new LimitError(`the session already has ${k.files.size} files (limit ${k.limits.maxFiles})`)
    const space = k.newSpace(name, 'file', pages)
    k.files.set(name, space)
    this.record({ op: 'createFile', name, pages })
    return fileView(space)
  }

  private file (name: string): import('./address-space.js').AddressSpace {
    const f = this.kernel.files.get(name)
    if (f === undefined) throw new NotFoundError(`no file named "${name}"`, 'ENOENT', { name })
    return f
  }

  files (): FileView[] {
    return [...this.kernel.files.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(fileView)
  }

  fileInfo (name: string): FileDetail {
    const f = this.file(name)
    const k = this.kernel
    return {
      ...fileView(f),
      cache: f.cachedIndexes().map((index) => {
        const pfn = f.cache.get(index) as number
        return { index, pfn, mapcount: k.mapcount(pfn), dirty: (k.pageFlags(pfn) & PG.dirty) !== 0 }
      }),
      immap: [...f.immap.values()].map((v) => ({ pid: v.mm.pid, vmaId: v.id, start: v.start, end: v.end, pgoff: v.pgoff, shared: v.isShared }))
    }
  }

  evict (name: string): ReturnType<typeof evictFile> {
    const f = this.file(name)
    const r = this.run('evict', undefined, () => evictFile(this.kernel, f))
    this.record({ op: 'evict', file: name })
    return r
  }

  // ---------------------------------------------------------------- address space

  mmap (pid: number, o: MmapOptions): VmaView {
    const mm = this.process(pid)
    const flags = parseProt(o.prot ?? 'rw')
    const file = o.file !== undefined ? this.file(o.file) : null
    const args = { addr: o.addr, fixed: o.fixed, pages: o.pages, flags, shared: o.shared ?? false, file, offset: o.offset ?? 0 }
    const at = checkMmap(this.kernel, mm, args)
    const v = vmaView(this.run('mmap', pid, () => doMmap(this.kernel, mm, args, at)))
    this.record({ op: 'mmap', pid, ...(o.addr === undefined ? {} : { addr: hex(o.addr) }), ...(o.fixed === undefined ? {} : { fixed: o.fixed }), pages: o.pages, prot: o.prot ?? 'rw', shared: o.shared ?? false, ...(o.file === undefined ? {} : { file: o.file, offset: o.offset ?? 0 }) })
    return v
  }

  munmap (pid: number, addr: number, pages: number): void {
    const mm = this.process(pid)
    checkMunmap(this.kernel, mm, addr, pages)
    this.run('munmap', pid, () => { doMunmap(this.kernel, mm, addr, addr + pages * PAGE_SIZE) })
    this.record({ op: 'munmap', pid, addr: hex(addr), pages })
  }

  mprotect (pid: number, addr: number, pages: number, prot: string): void {
    const mm = this.process(pid)
    const flags = parseProt(prot)
    checkMprotect(this.kernel, mm, addr, pages)
    this.run('mprotect', pid, () => { doMprotect(this.kernel, mm, addr, pages, flags) })
    this.record({ op: 'mprotect', pid, addr: hex(addr), pages, prot })
  }

  mremap (pid: number, o: MremapOptions): { addr: number } {
    const mm = this.process(pid)
    const plan = checkMremap(this.kernel, mm, o)
    const r = { addr: this.run('mremap', pid, () => doMremap(this.kernel, mm, o, plan)) }
    this.record({ op: 'mremap', pid, addr: hex(o.addr), pages: o.pages, newPages: o.newPages, ...(o.newAddr === undefined ? {} : { newAddr: hex(o.newAddr) }), ...(o.mayMove === undefined ? {} : { mayMove: o.mayMove }) })
    return r
  }

  madvise (pid: number, addr: number, pages: number, advice: Advice): void {
    const mm = this.process(pid)
    if (advice !== 'dontneed') throw new InvalidArgumentError(`advice "${String(advice)}" is not supported (only "dontneed")`, 'EINVAL', { advice })
    checkMadvise(mm, addr, pages)
    this.run('madvise', pid, () => { doMadvise(this.kernel, mm, addr, pages, advice) })
    this.record({ op: 'madvise', pid, addr: hex(addr), pages, advice })
  }

  /** A one-byte access: no fault, a fault path, or a signal (with nothing changed). */
  access (pid: number, addr: number, op: AccessOp): AccessResult {
    const mm = this.process(pid)
    if (!Number.isSafeInteger(addr) || addr < 0 || addr >= TASK_SIZE) throw new InvalidArgumentError(`address ${String(addr)} is not a canonical user address (below ${hex(TASK_SIZE)})`, 'EFAULT', { addr })
    if (op !== 'read' && op !== 'write' && op !== 'exec') throw new InvalidArgumentError(`op must be read, write or exec, not "${String(op)}"`)
    const r = this.run('access', pid, (cause) => {
      const res = handleMmFault(this.kernel, mm, addr, op)
      cause.path = res.path
      return res
    })
    if (r.signal === undefined) this.record(() => ({ op, pid, addr: hex(addr) }))
    return {
      pid,
      addr,
      op,
      ok: r.signal === undefined,
      path: r.path,
      signal: r.signal,
      siCode: r.siCode,
      reason: r.reason,
      vmaId: r.vma?.id,
      pteBefore: decodePte(r.pteBefore),
      pte: decodePte(r.pteAfter),
      pfn: r.pfn,
      copiedFrom: r.copiedFrom
    }
  }

  // ---------------------------------------------------------------- page tables

  translate (pid: number, addr: number): { pid: number, addr: number, vmaId: number | null, levels: LevelView[], pfn: number | null, offset: number } {
    const mm = this.process(pid)
    if (!Number.isSafeInteger(addr) || addr < 0 || addr >= TASK_SIZE) throw new InvalidArgumentError(`address ${String(addr)} is not a canonical user address`, 'EFAULT', { addr })
    const levels = mm.pgtable.walk(pageDown(addr))
    const last = levels[levels.length - 1]
    const pfn = last.level === 'pte' && pteMapped(last.value) ? ptePfn(last.value) : null
    return { pid, addr, vmaId: mm.vmaAt(addr)?.id ?? null, levels: levels.map(levelView), pfn, offset: addr % PAGE_SIZE }
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
          entries.push({ addr: base + i * PAGE_SIZE, pte: decodePte(leaf.ptes[i]) })
        }
      })
    }
    return { entries, next }
  }

  // ---------------------------------------------------------------- frames

  private checkPfn (pfn: number): void {
    if (!this.kernel.frames.isValidPfn(pfn)) throw new NotFoundError(`no frame with PFN ${String(pfn)} (valid: ${ZERO_PFN} to ${this.kernel.frames.pfnLimit - 1})`, 'ENOENT', { pfn })
  }

  frame (pfn: number): FrameView {
    this.checkPfn(pfn)
    return frameView(this.kernel, pfn)
  }

  frames (filter: { kind?: FrameKind, mapped?: boolean, file?: string, after?: number, limit?: number } = {}): { frames: FrameView[], next: number | null } {
    const k = this.kernel
    const space = filter.file !== undefined ? this.file(filter.file) : undefined
    const limit = filter.limit ?? 256
    const out: FrameView[] = []
    for (let pfn = Math.max(ZERO_PFN, (filter.after ?? ZERO_PFN - 1) + 1); pfn < k.frames.pfnLimit; pfn++) {
      const kind = k.frameKind(pfn)
      if (filter.kind !== undefined ? kind !== filter.kind : kind === 'free') continue
      if (filter.mapped !== undefined && (k.mapcount(pfn) > 0) !== filter.mapped) continue
      if (space !== undefined && k.pageMapping(pfn) !== fileMapping(space.id)) continue
      if (out.length === limit) return { frames: out, next: out[out.length - 1].pfn }
      out.push(frameView(k, pfn))
    }
    return { frames: out, next: null }
  }

  rmap (pfn: number, trace = false): RmapResult {
    this.checkPfn(pfn)
    const steps: RmapStep[] | undefined = trace ? [] : undefined
    const mappings: RmapMappingView[] = []
    // The mappings of one page mostly hold the same PTE value (forks share it write-protected): each
    // distinct value is decoded once per walk.
    const decoded = new Map<number, DecodedPte>()
    rmapWalk(this.kernel, pfn, (m) => {
      const value = m.leaf.ptes[m.slot]
      let pte = decoded.get(value)
      if (pte === undefined) { pte = decodePte(value); decoded.set(value, pte) }
      mappings.push({ pid: m.pid, vmaId: m.vma.id, addr: m.addr, pte })
      return undefined
    }, steps)
    mappings.sort((a, b) => a.pid - b.pid || a.addr - b.addr)
    return { pfn, kind: this.kernel.frameKind(pfn), model: this.version, mappings, trace: steps }
  }

  referenced (pfn: number): { referenced: number, ptes: number } {
    this.checkPfn(pfn)
    const r = this.run('page_referenced', undefined, () => pageReferenced(this.kernel, pfn))
    this.record({ op: 'referenced', pfn })
    return r
  }

  unmap (pfn: number): UnmapResult {
    this.checkPfn(pfn)
    const r = this.run('try_to_unmap', undefined, () => tryToUnmap(this.kernel, pfn))
    this.record({ op: 'unmap', pfn })
    return r
  }

  mkclean (pfn: number): { cleaned: number, wasDirty: boolean } {
    this.checkPfn(pfn)
    const r = this.run('page_mkclean', undefined, () => pageMkclean(this.kernel, pfn))
    this.record({ op: 'mkclean', pfn })
    return r
  }

  migrate (pfn: number): { newPfn: number, remapped: number } {
    this.checkPfn(pfn)
    const r = this.run('migrate', undefined, () => migratePage(this.kernel, pfn))
    this.record({ op: 'migrate', pfn })
    return r
  }

  // ---------------------------------------------------------------- whole state

  /** The complete state as versioned JSON (see snapshot.ts). */
  snapshot (): Snapshot { return takeSnapshot(this.kernel) }

  /** A new simulator in exactly the state of `snap`; throws InvalidArgumentError if it is inconsistent. */
  static fromSnapshot (snap: Snapshot, opts: { verify?: boolean, journalLimit?: number } = {}): Simulator {
    if (typeof snap !== 'object' || snap === null || !KERNEL_VERSIONS.includes(snap.kernel)) throw new InvalidArgumentError('snapshot: unknown kernel model')
    const sim = new Simulator({ kernel: snap.kernel, limits: snap.limits, journalLimit: opts.journalLimit })
    sim.fromSnapshot = true
    try {
      restoreSnapshot(sim.kernel, snap, opts.verify ?? true)
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw err
      throw new InvalidArgumentError(`snapshot: ${err instanceof Error ? err.message : String(err)}`)
    }
    return sim
  }

  check (): InvariantReport { return checkInvariants(this.kernel) }

  /** Evicts every clean unmapped page-cache page of every file (echo 1 > drop_caches). */
  dropCaches (): number {
    let n = 0
    for (const f of this.kernel.files.values()) n += this.evict(f.name).evicted.length
    return n
  }

  stats (): SimStats {
    const k = this.kernel
    const byKind: Record<string, number> = {}
    for (let pfn = ZERO_PFN + 1; pfn < k.frames.pfnLimit; pfn++) {
      const kind = k.frameKind(pfn)
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
