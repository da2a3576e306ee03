import { PAGE_SIZE, hex } from './constants.js'
import { PFN_BASE, PG, ZERO_PFN, fileMapping, mappingId, mappingIsAnon } from './frames.js'
import type { KernelState } from './kernel-state.js'
import { pteIsMigration, pteIsSwap, pteMapped, ptePfn, swpOffset } from './pte.js'
import { rmapWalk } from './rmap.js'
import { VM } from './vma.js'

export interface InvariantReport {
  ok: boolean
  violations: string[]
  checked: { frames: number, ptes: number, swapEntries: number, vmas: number, walks: number, anonVmas: number }
}

const MAX_VIOLATIONS = 200

/**
 * Checks that the whole state is consistent: each frame's mapcount equals the PTEs mapping it, its
 * refcount accounts for every holder, an rmap walk of every mapped page finds exactly those PTEs,
 * the VMA lists, i_mmap and anon_vma structures agree, swap counts match swap entries, and RSS
 * counters match the page tables.
 */
export function checkInvariants (k: KernelState): InvariantReport {
  const violations: string[] = []
  const fail = (msg: string): void => { if (violations.length < MAX_VIOLATIONS) violations.push(msg) }
  const mappers = new Map<number, string[]>()
  /** Pages a VM_LOCKED VMA maps: exactly the mlocked ones, where the model keeps PG_mlocked. */
  const lockedPfns = new Set<number>()
  const swapRefs = new Map<number, number>()
  const tablePfns = new Set<number>()
  let ptes = 0; let swapEntries = 0; let vmaCount = 0; let walks = 0

  for (const mm of [...k.processes.values()].sort((a, b) => a.pid - b.pid)) {
    for (const p of mm.pgtable.tablePfns()) tablePfns.add(p)
    const rss = { anon: 0, file: 0, shmem: 0, swap: 0 }
    let prevEnd = 0
    for (const vma of mm.vmas) {
      vmaCount++
      if (vma.mm !== mm) fail(`${vma} is listed in pid ${mm.pid} but belongs to pid ${vma.mm.pid}`)
      if (vma.start % PAGE_SIZE !== 0 || vma.end % PAGE_SIZE !== 0 || vma.start >= vma.end) fail(`${vma} of pid ${mm.pid} has a bad range`)
      if (vma.start < prevEnd) fail(`${vma} of pid ${mm.pid} overlaps or is out of order`)
      prevEnd = vma.end
      if (vma.mapping !== null) {
        if (vma.immapNode === null || vma.immapNode.start !== vma.pgoff || vma.immapNode.last !== vma.lastPgoff) fail(`${vma} of pid ${mm.pid} is missing from i_mmap or keyed wrong`)
      }
      k.model.checkAnonLinks(k, vma, fail)
    }
    // Every PTE must lie inside a VMA and be accounted.
    for (const vma of mm.vmas) {
      mm.pgtable.forEachLeaf(vma.start, vma.end, (leaf, from, to, base) => {
        for (let i = from; i < to; i++) {
          const pte = leaf.ptes[i]
          if (pte === 0) continue
          const addr = base + i * PAGE_SIZE
          if (pteMapped(pte)) {
            ptes++
            const pfn = ptePfn(pte)
            if (pfn === ZERO_PFN) continue
            if (!k.frames.isValidPfn(pfn) || k.frames.isFree(pfn)) { fail(`pid ${mm.pid} ${hex(addr)} maps free or invalid PFN ${pfn}`); continue }
            const list = mappers.get(pfn) ?? []
            list.push(`${mm.pid}:${addr}`)
            mappers.set(pfn, list)
            if ((vma.flags & VM.LOCKED) !== 0) lockedPfns.add(pfn)
            const kind = k.frameKind(pfn)
            if (kind === 'anon') rss.anon++
            else if (kind === 'shmem') rss.shmem++
            else rss.file++
          } else if (pteIsSwap(pte)) {
            swapEntries++
            rss.swap++
            swapRefs.set(swpOffset(pte), (swapRefs.get(swpOffset(pte)) ?? 0) + 1)
          } else if (pteIsMigration(pte)) {
            fail(`pid ${mm.pid} ${hex(addr)} holds a migration entry outside a migration`)
          }
        }
      })
    }
    let stray = 0
    mm.pgtable.forEachLeaf(0, 2 ** 47, (leaf, from, to, base) => {
      for (let i = from; i < to; i++) if (leaf.ptes[i] !== 0 && mm.vmaAt(base + i * PAGE_SIZE) === undefined) stray++
    })
    if (stray > 0) fail(`pid ${mm.pid} has ${stray} PTE(s) outside every VMA`)
    for (const key of ['anon', 'file', 'shmem', 'swap'] as const) {
      if (mm.rss[key] !== rss[key]) fail(`pid ${mm.pid} rss.${key} is ${mm.rss[key]} but its page tables hold ${rss[key]}`)
    }
  }

  // i_mmap trees hold exactly the live file VMAs.
  for (const space of k.spaces.values()) {
    const err = space.immap.validate()
    if (err !== null) fail(`i_mmap of ${space.name}: ${err}`)
    for (const vma of space.immap.values()) {
      if (vma.mapping !== space || !k.processes.has(vma.mm.pid) || !vma.mm.vmas.includes(vma)) fail(`i_mmap of ${space.name} holds a dead or foreign ${vma}`)
    }
    for (const [index, pfn] of space.cache) {
      if (k.pageMapping(pfn) !== fileMapping(space.id) || k.pageIndex(pfn) !== index) fail(`page cache of ${space.name}[${index}] -> PFN ${pfn} whose mapping/index disagree`)
    }
  }
  for (const av of k.anonVmas.values()) {
    const err = av.tree.validate()
    if (err !== null) fail(`anon_vma #${av.id} tree: ${err}`)
    for (const avc of av.tree.values()) {
      if (!avc.vma.mm.vmas.includes(avc.vma) || !k.processes.has(avc.vma.mm.pid)) fail(`anon_vma #${av.id} links a dead ${avc.vma}`)
    }
    for (const vma of av.vmas) if (!vma.mm.vmas.includes(vma)) fail(`anon_vma #${av.id} lists a dead ${vma}`)
  }

  // An mlocked page is one a VM_LOCKED VMA maps. (Not every such page is mlocked: Linux does not mlock
  // a folio that a swap-in just made anonymous; see mlockFaulted in memory.ts.)
  if (k.model.tracksMlock) {
    for (let pfn = PFN_BASE + 1; pfn < k.frames.pfnLimit; pfn++) {
      const mlocked = (k.frames.flags[pfn - PFN_BASE] & PG.mlocked) !== 0
      if (mlocked && !lockedPfns.has(pfn)) fail(`PFN ${pfn} is mlocked but no VM_LOCKED VMA maps it`)
    }
  } else {
    for (let pfn = PFN_BASE + 1; pfn < k.frames.pfnLimit; pfn++) if ((k.frames.flags[pfn - PFN_BASE] & PG.mlocked) !== 0) fail(`PFN ${pfn} is mlocked in a kernel without PG_mlocked`)
  }

  // Frames.
  let live = 0; let framesChecked = 0
  for (let pfn = PFN_BASE + 1; pfn < k.frames.pfnLimit; pfn++) {
    framesChecked++
    const s = pfn - PFN_BASE
    const rc = k.frames.refcount[s]
    const flags = k.frames.flags[s]
    if (rc === 0) {
      if (flags !== 0 || k.frames.mapping[s] !== 0 || k.frames.mapcountRaw[s] !== -1) fail(`free PFN ${pfn} has state left over`)
      if (mappers.has(pfn)) fail(`free PFN ${pfn} is still mapped`)
      continue
    }
    live++
    const mapped = mappers.get(pfn) ?? []
    const mapcount = k.frames.mapcountRaw[s] + 1
    if (flags & PG.table) {
      if (!tablePfns.has(pfn)) fail(`page-table PFN ${pfn} belongs to no page table`)
      if (rc !== 1) fail(`page-table PFN ${pfn} has refcount ${rc}`)
      continue
    }
    if (mapcount !== mapped.length) fail(`PFN ${pfn}: mapcount ${mapcount} but ${mapped.length} PTE(s) map it`)
    const m = k.frames.mapping[s]
    const inSwapCache = (flags & PG.swapcache) !== 0
    if (inSwapCache !== (k.swap.slotOfPfn.get(pfn) !== undefined)) fail(`PFN ${pfn}: PG_swapcache and the swap cache disagree`)
    let expected = mapcount + (inSwapCache ? 1 : 0)
    if (m !== 0 && !mappingIsAnon(m)) {
      const space = k.spaces.get(mappingId(m))
      if (space === undefined || space.cache.get(k.frames.index[s]) !== pfn) fail(`file PFN ${pfn} is not in its page cache`)
      else expected += 1
    } else if (mapcount === 0 && !inSwapCache) {
      fail(`anonymous PFN ${pfn} is neither mapped nor in the swap cache (leaked)`)
    }
    if (rc !== expected) fail(`PFN ${pfn}: refcount ${rc}, but its holders account for ${expected}`)
    if (mapped.length > 0) {
      walks++
      const found: string[] = []
      rmapWalk(k, pfn, (mp) => { found.push(`${mp.pid}:${mp.addr}`); return undefined })
      const a = [...mapped].sort().join(',')
      const b = [...found].sort().join(',')
      if (a !== b) fail(`rmap walk of PFN ${pfn} found {${found.map(fmt).join(', ')}} but the PTEs are {${mapped.map(fmt).join(', ')}}`)
    }
  }
  for (const p of tablePfns) if ((k.pageFlags(p) & PG.table) === 0) fail(`page table at PFN ${p} is not marked PageTable`)
  if (live !== k.frames.inUse) fail(`the allocator counts ${k.frames.inUse} frames in use, the frames say ${live}`)

  // shmem objects hold a slot for each of their swapped-out pages (swap_shmem_alloc).
  const shmemRefs = new Map<number, number>()
  for (const space of k.spaces.values()) {
    for (const [index, slot] of space.swapped) {
      shmemRefs.set(slot, (shmemRefs.get(slot) ?? 0) + 1)
      if (space.cache.has(index)) fail(`${space.name}[${index}] is both cached and swapped out`)
      if (!k.swap.map.has(slot)) fail(`${space.name}[${index}] is swapped out to free slot ${slot}`)
    }
  }
  for (const [slot, count] of k.swap.map) {
    const refs = (swapRefs.get(slot) ?? 0) + (shmemRefs.get(slot) ?? 0)
    if (refs !== count) fail(`swap slot ${slot}: count ${count} but ${swapRefs.get(slot) ?? 0} swap PTE(s) and ${shmemRefs.get(slot) ?? 0} shmem page(s) refer to it`)
  }
  for (const [slot, n] of swapRefs) if (!k.swap.map.has(slot)) fail(`${n} swap PTE(s) refer to free swap slot ${slot}`)

  return { ok: violations.length === 0, violations, checked: { frames: framesChecked, ptes, swapEntries, vmas: vmaCount, walks, anonVmas: k.anonVmas.size } }
}

function fmt (key: string): string {
  const [pid, addr] = key.split(':')
  return `pid ${pid} ${hex(Number(addr))}`
}
