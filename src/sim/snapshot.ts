import { PAGE_SIZE, PGDIR_SIZE, PMD_SIZE } from './constants.js'
import { AddressSpace } from './address-space.js'
import { AnonVma, type AnonVmaChain } from './anon-vma.js'
import { InvalidArgumentError } from './errors.js'
import { PFN_BASE, ZERO_PFN } from './frames.js'
import { checkInvariants } from './invariants.js'
import type { KernelState } from './kernel-state.js'
import { Mm } from './mm.js'
import type { PrioShapeNode, PrioTreeShape } from './prio-tree.js'
import { SNAPSHOT_FORMAT, SNAPSHOT_VERSION, type ImmapTreeWire, type Snapshot, type SnapshotProcess } from './snapshot-schema.js'
import { Vma } from './vma.js'

/**
 * The complete state as plain, versioned JSON, and its exact restoration: same PFNs and allocator
 * order, ids and counters, page tables (at the same table frames), VMAs, anon_vmas with their lists,
 * chains and tree orders, page cache, swap. A restore either yields a state that passes every
 * invariant or throws, leaving nothing half-loaded (it builds a new KernelState).
 */
export { SNAPSHOT_FORMAT, SNAPSHOT_VERSION, type Snapshot, type SnapshotProcess, type SnapshotVma } from './snapshot-schema.js'

export function takeSnapshot (k: KernelState): Snapshot {
  const pages: Snapshot['frames']['pages'] = []
  const f = k.frames
  for (let pfn = PFN_BASE + 1; pfn < f.pfnLimit; pfn++) {
    const s = pfn - PFN_BASE
    if (f.refcount[s] === 0 && f.flags[s] === 0) continue
    pages.push([pfn, f.flags[s], f.refcount[s], f.mapcountRaw[s], f.mapping[s], f.index[s]])
  }
  const processes: SnapshotProcess[] = []
  for (const mm of k.processes.values()) {
    const ptes: Array<[number, number]> = []
    mm.pgtable.forEachLeaf(0, PGDIR_SIZE * 512, (leaf, from, to, base) => {
      for (let i = from; i < to; i++) if (leaf.ptes[i] !== 0) ptes.push([base + i * PAGE_SIZE, leaf.ptes[i]])
    })
    processes.push({
      pid: mm.pid,
      parent: mm.parentPid,
      name: mm.name,
      rss: { ...mm.rss },
      freeAreaCache: mm.freeAreaCache,
      pgd: mm.pgtable.pgdPfn,
      tables: mm.pgtable.tableList(),
      ptes,
      vmas: mm.vmas.map((v) => ({ id: v.id, start: v.start, end: v.end, pgoff: v.pgoff, flags: v.flags, file: v.mapping?.id ?? null, fileHandle: v.file, anonVma: v.anonVma?.id ?? null, chain: v.chain.map((c) => c.anonVma.id) }))
    })
  }
  const named = new Set(k.files.values())
  return {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    kernel: k.model.version,
    limits: { ...k.limits },
    counters: { nextPid: k.nextPid, nextVmaId: k.nextVmaId, nextAnonVmaId: k.nextAnonVmaId, nextSpaceId: k.nextSpaceId, nextFileHandle: k.nextFileId, eventSeq: k.events.seq },
    frames: { next: f.pfnLimit, free: f.freeListSnapshot(), pages },
    swap: k.swap.snapshot(),
    spaces: [...k.spaces.values()].map((sp) => ({
      id: sp.id,
      name: sp.name,
      kind: sp.kind,
      pages: sp.pages,
      named: named.has(sp),
      cache: [...sp.cache],
      immap: [...sp.immap.values()].map((v) => v.id),
      // The priority tree (2.6.11): its exact nodes, lists and index_bits.
      ...(sp.immap.shape !== undefined ? { immapTree: flattenImmap(sp.immap.shape((v) => v.id)) } : {}),
      // Only shmem objects with pages in swap have it, so snapshots without any stay as they were.
      ...(sp.swapped.size > 0 ? { swapped: [...sp.swapped] } : {})
    })),
    anonVmas: [...k.anonVmas.values()].map((av) => ({
      id: av.id,
      root: av.root.id,
      parent: av.parent.id,
      numChildren: av.numChildren,
      numActiveVmas: av.numActiveVmas,
      refcount: av.refcount,
      pages: av.pages,
      vmas: av.vmas.map((v) => v.id),
      tree: [...av.tree.values()].map((c) => c.vma.id)
    })),
    processes
  }
}

function bad (msg: string): never { throw new InvalidArgumentError(`snapshot: ${msg}`, 'EINVAL') }

/**
 * Ids still to be handed out must lie past every id in use (or the next spawn, mmap or fault would
 * reuse one), names must be unique among live processes, VMAs must lie in user space, and the state
 * must fit the snapshot's own limits.
 */
function checkCounters (k: KernelState, s: Snapshot, vmas: Map<number, Vma>): void {
  const max = (xs: Iterable<number>): number => { let m = 0; for (const x of xs) if (x > m) m = x; return m }
  const c = s.counters
  if (c.nextPid <= max(s.processes.map((p) => p.pid))) bad(`counters.nextPid ${c.nextPid} is not past the pids in use`)
  if (c.nextVmaId <= max(vmas.keys())) bad(`counters.nextVmaId ${c.nextVmaId} is not past the VMA ids in use`)
  if (c.nextAnonVmaId <= max(s.anonVmas.map((a) => a.id))) bad(`counters.nextAnonVmaId ${c.nextAnonVmaId} is not past the anon_vma ids in use`)
  if (c.nextSpaceId <= max(s.spaces.map((sp) => sp.id))) bad(`counters.nextSpaceId ${c.nextSpaceId} is not past the address_space ids in use`)
  if (c.nextFileHandle <= max([...vmas.values()].map((v) => v.file))) bad(`counters.nextFileHandle ${c.nextFileHandle} is not past the file handles in use`)
  const slots = [...s.swap.map.map(([slot]) => slot), ...s.swap.cache.map(([slot]) => slot)]
  if (s.swap.next <= max(slots)) bad(`swap.next ${s.swap.next} is not past the swap slots in use`)
  const inUse = new Set(slots)
  for (const f of s.swap.freed) if (inUse.has(f) || f >= s.swap.next || f < 1) bad(`swap slot ${f} is listed as free but is in use or was never handed out`)
  const names = new Set<string>()
  for (const p of s.processes) {
    if (p.name === null) continue
    if (names.has(p.name)) bad(`two live processes are named "${p.name}"`)
    names.add(p.name)
  }
  for (const v of vmas.values()) if (v.end > k.model.taskSize) bad(`VMA ${v.id} ends at ${v.end}, past the top of user space`)
  const l = s.limits
  if (s.processes.length > l.maxProcesses) bad(`${s.processes.length} processes exceed limits.maxProcesses ${l.maxProcesses}`)
  if (k.files.size > l.maxFiles) bad(`${k.files.size} files exceed limits.maxFiles ${l.maxFiles}`)
  for (const p of s.processes) if (p.vmas.length > l.maxVmasPerProcess) bad(`pid ${p.pid} has more VMAs than limits.maxVmasPerProcess`)
  for (const sp of s.spaces) if (sp.named && sp.pages > l.maxFilePages) bad(`file ${sp.name} exceeds limits.maxFilePages`)
  if (s.swap.map.length > l.maxSwapSlots) bad('more swap slots in use than limits.maxSwapSlots')
}

/** Fills a fresh kernel (same model and limits) from a snapshot; throws on any inconsistency. */
export function restoreSnapshot (k: KernelState, s: Snapshot, verify = true): void {
  if (s.format !== SNAPSHOT_FORMAT || s.version !== SNAPSHOT_VERSION) bad(`unknown format ${String(s.format)} v${String(s.version)} (expected ${SNAPSHOT_FORMAT} v${SNAPSHOT_VERSION})`)
  if (s.kernel !== k.model.version) bad(`made by the ${s.kernel} model, restoring into ${k.model.version}`)
  const f = k.frames
  if (s.frames.pages.length > f.maxFrames) bad(`${s.frames.pages.length} frames in use exceed the limit of ${f.maxFrames}`)
  if (s.frames.next > PFN_BASE + f.maxFrames + 1) bad(`frames.next ${s.frames.next} is beyond the frame limit`)
  f.restoreAllocator(s.frames.next, s.frames.free, s.frames.pages.length)
  // A bitmap rather than a Set: restoring is the copy step of every atomic batch.
  const seen = new Uint8Array(Math.max(0, s.frames.next - PFN_BASE))
  // Indexed loops, not destructuring for-of: this is per frame and per PTE.
  const pages = s.frames.pages
  for (let j = 0; j < pages.length; j++) {
    const e = pages[j]
    const pfn = e[0]
    if (!Number.isSafeInteger(pfn) || pfn <= ZERO_PFN || pfn >= s.frames.next) bad(`frame ${pfn} is outside [${ZERO_PFN + 1}, ${s.frames.next})`)
    const i = pfn - PFN_BASE
    if (seen[i] === 1) bad(`frame ${pfn} appears twice`)
    seen[i] = 1
    f.flags[i] = e[1]; f.refcount[i] = e[2]; f.mapcountRaw[i] = e[3]; f.mapping[i] = e[4]; f.index[i] = e[5]
  }
  for (const p of s.frames.free) if (seen[p - PFN_BASE] === 1) bad(`frame ${p} is both free and in use`)
  k.swap.restore(s.swap)

  for (const sp of s.spaces) {
    const space = new AddressSpace(sp.id, sp.name, sp.kind, sp.pages, k.model.newImmap())
    for (const [index, pfn] of sp.cache) space.cache.set(index, pfn)
    for (const [index, slot] of sp.swapped ?? []) space.swapped.set(index, slot)
    k.spaces.set(space.id, space)
    if (sp.named) {
      if (k.files.has(sp.name)) bad(`file name "${sp.name}" appears twice`)
      k.files.set(sp.name, space)
    }
  }
  for (const a of s.anonVmas) k.anonVmas.set(a.id, new AnonVma(a.id))
  const anon = (id: number): AnonVma => k.anonVmas.get(id) ?? bad(`unknown anon_vma ${id}`)
  for (const a of s.anonVmas) {
    const av = anon(a.id)
    av.root = anon(a.root); av.parent = anon(a.parent)
    av.numChildren = a.numChildren; av.numActiveVmas = a.numActiveVmas; av.refcount = a.refcount; av.pages = a.pages
  }

  const vmas = new Map<number, Vma>()
  for (const p of s.processes) {
    if (k.processes.has(p.pid)) bad(`pid ${p.pid} appears twice`)
    const mm = new Mm(p.pid, p.parent, p.name, k.tables, p.pgd)
    mm.rss = { ...p.rss }
    mm.freeAreaCache = p.freeAreaCache
    for (const [level, gi, ui, mi, pfn] of p.tables) {
      if (level !== 1 && level !== 2 && level !== 3) bad(`pid ${p.pid}: table level ${level}`)
      mm.pgtable.restoreTable(level, gi, ui, mi, pfn)
    }
    const ptes = p.ptes
    for (let j = 0; j < ptes.length; j++) {
      const addr = ptes[j][0]
      const leaf = mm.pgtable.leaf(addr) ?? bad(`pid ${p.pid}: no page table for the PTE at ${addr}`)
      leaf.ptes[(addr % PMD_SIZE) / PAGE_SIZE] = ptes[j][1]
    }
    let prevEnd = 0
    for (const sv of p.vmas) {
      if (vmas.has(sv.id)) bad(`VMA ${sv.id} appears twice`)
      if (sv.start < prevEnd || sv.end <= sv.start || sv.start % PAGE_SIZE !== 0 || sv.end % PAGE_SIZE !== 0) bad(`pid ${p.pid}: VMA ${sv.id} has a bad or overlapping range`)
      prevEnd = sv.end
      const file = sv.file === null ? null : (k.spaces.get(sv.file) ?? bad(`VMA ${sv.id}: unknown address_space ${sv.file}`))
      const v = new Vma(sv.id, mm, sv.start, sv.end, sv.pgoff, sv.flags, file)
      v.file = sv.fileHandle
      v.anonVma = sv.anonVma === null ? null : anon(sv.anonVma)
      for (const id of sv.chain) v.chain.push({ vma: v, anonVma: anon(id), node: null })
      mm.vmas.push(v)
      vmas.set(v.id, v)
    }
    k.processes.set(mm.pid, mm)
  }
  const vma = (id: number): Vma => vmas.get(id) ?? bad(`unknown VMA ${id}`)
  for (const sp of s.spaces) {
    const space = k.spaces.get(sp.id) as AddressSpace
    for (const id of sp.immap) {
      const v = vma(id)
      if (v.mapping !== space) bad(`VMA ${id} is in the i_mmap of ${sp.name} but maps another object`)
    }
    if (sp.immapTree !== undefined && k.model.restoreImmap !== undefined) {
      // The priority tree's walk order depends on its history: rebuild its exact structure.
      if (new Set(sp.immap).size !== sp.immap.length) bad(`a VMA appears twice in the i_mmap of ${sp.name}`)
      const ids = new Set(sp.immap)
      const restored = k.model.restoreImmap(unflattenImmap(sp.immapTree, sp.name), (id) => {
        if (!ids.has(id)) bad(`the i_mmap tree of ${sp.name} holds VMA ${id}, which its list does not`)
        const v = vma(id)
        return { value: v, start: v.pgoff, last: v.lastPgoff }
      })
      if (restored.nodes.size !== ids.size) bad(`the i_mmap tree of ${sp.name} does not hold every VMA of its list`)
      space.immap = restored.tree
      for (const [id, node] of restored.nodes) vma(id).immapNode = node
    } else {
      for (const id of sp.immap) {
        const v = vma(id)
        v.immapNode = space.immap.insert(v, v.pgoff, v.lastPgoff)
      }
    }
  }
  for (const a of s.anonVmas) {
    const av = anon(a.id)
    for (const id of a.vmas) av.vmas.push(vma(id))
    for (const id of a.tree) {
      const avc: AnonVmaChain = vma(id).chain.find((c) => c.anonVma === av && c.node === null) ?? bad(`anon_vma ${a.id}'s tree holds VMA ${id}, which has no free AVC for it`)
      avc.node = av.tree.insert(avc, avc.vma.pgoff, avc.vma.lastPgoff)
    }
  }
  checkCounters(k, s, vmas)
  k.nextPid = s.counters.nextPid
  k.nextVmaId = s.counters.nextVmaId
  k.nextAnonVmaId = s.counters.nextAnonVmaId
  k.nextSpaceId = s.counters.nextSpaceId
  k.nextFileId = s.counters.nextFileHandle
  k.events.seq = s.counters.eventSeq

  if (!verify) return
  const report = checkInvariants(k)
  if (!report.ok) bad(`inconsistent state: ${report.violations.slice(0, 5).join('; ')}${report.violations.length > 5 ? ` (and ${report.violations.length - 5} more)` : ''}`)
}

/** A priority tree's shape as the snapshot holds it: flat, children by index, in pre-order. */
function flattenImmap (shape: PrioTreeShape): ImmapTreeWire {
  const nodes: ImmapTreeWire['nodes'] = []
  const add = (n: PrioShapeNode | null): number | null => {
    if (n === null) return null
    const i = nodes.length
    nodes.push({ ids: n.ids, left: null, right: null })
    nodes[i].left = add(n.left)
    nodes[i].right = add(n.right)
    return i
  }
  const root = add(shape.root)
  return { indexBits: shape.indexBits, root, nodes }
}

/** The inverse of flattenImmap; each node is used once, and the depth is bounded by the tree's own limit. */
function unflattenImmap (wire: ImmapTreeWire, name: string): PrioTreeShape {
  const used = new Set<number>()
  const build = (i: number | null, depth: number): PrioShapeNode | null => {
    if (i === null) return null
    if (depth > 53 + 64) bad(`the i_mmap tree of ${name} is deeper than a priority tree can be`)
    if (i >= wire.nodes.length || used.has(i)) bad(`the i_mmap tree of ${name} refers to node ${i} twice or past its end`)
    used.add(i)
    const n = wire.nodes[i]
    return { ids: n.ids, left: build(n.left, depth + 1), right: build(n.right, depth + 1) }
  }
  const root = build(wire.root, 0)
  if (used.size !== wire.nodes.length) bad(`the i_mmap tree of ${name} has nodes outside the tree`)
  return { indexBits: wire.indexBits, root }
}
