import type { AddressSpace } from './address-space.js'
import { flagsIn, mappingId, mappingIsAnon, type PageFlagName } from './frames.js'
import type { FrameKind, KernelState } from './kernel-state.js'
import type { Mm } from './mm.js'
import type { LevelEntry } from './page-table.js'
import { decodePte, type DecodedPte, type PteLayout } from './pte.js'
import { vmFlagNames, vmFlagsToProt, type Vma } from './vma.js'

/** Plain-data views of the engine's objects (addresses as numbers; the API prints them in hex). */

/** A fake kernel pointer for object `id` of a kind, so `mapping` can be shown as a tagged number. */
const ANON_VMA_BASE = 0xffff888000100000n
const ADDRESS_SPACE_BASE = 0xffff888000800000n
const OBJECT_STRIDE = 0x100n

export interface MappingView {
  /** The tagged pointer as the kernel stores it (hex): bit 0 is PAGE_MAPPING_ANON. */
  raw: string
  anon: boolean
  kind: 'anon_vma' | 'address_space' | 'none'
  id: number | null
  name?: string
  /** False when the object was freed while the page still names it (only unmapped pages). */
  live: boolean
}

export function mappingView (k: KernelState, m: number): MappingView {
  if (m === 0) return { raw: '0x0', anon: false, kind: 'none', id: null, live: false }
  const id = mappingId(m)
  if (mappingIsAnon(m)) {
    return { raw: '0x' + (ANON_VMA_BASE + BigInt(id) * OBJECT_STRIDE + 1n).toString(16), anon: true, kind: 'anon_vma', id, live: k.anonVmas.has(id) }
  }
  const space = k.spaces.get(id)
  return { raw: '0x' + (ADDRESS_SPACE_BASE + BigInt(id) * OBJECT_STRIDE).toString(16), anon: false, kind: 'address_space', id, name: space?.name, live: space !== undefined }
}

/** A frame's kind as the session's kernel names it (a 2.6.11 page table is just a kernel page). */
export type FrameKindName = FrameKind | 'kernel'

export function frameKindName (k: KernelState, kind: FrameKind): FrameKindName {
  return kind === 'pagetable' ? k.model.pageFlags.tableKind : kind
}

export interface FrameView {
  pfn: number
  kind: FrameKindName
  flags: PageFlagName[]
  flagsRaw: number
  /** `_count` as the model's kernel stores it (2.6.11: biased by -1). */
  _count: number
  countBias: number
  /** References held (page_count()). */
  refcount: number
  _mapcount: number
  mapcount: number
  mapping: MappingView
  index: number
  swapSlot: number | null
}

export function frameView (k: KernelState, pfn: number): FrameView {
  const flags = flagsIn(k.model.pageFlags, k.pageFlags(pfn))
  const refcount = k.refcount(pfn)
  return {
    pfn,
    kind: frameKindName(k, k.frameKind(pfn)),
    flags: flags.names,
    flagsRaw: flags.raw,
    _count: refcount + k.model.countBias,
    countBias: k.model.countBias,
    refcount,
    _mapcount: k.mapcount(pfn) - 1,
    mapcount: k.mapcount(pfn),
    mapping: mappingView(k, k.pageMapping(pfn)),
    index: k.pageIndex(pfn),
    swapSlot: k.swap.slotOfPfn.get(pfn) ?? null
  }
}

export interface VmaView {
  id: number
  start: number
  end: number
  pages: number
  pgoff: number
  prot: string
  flags: string[]
  flagsRaw: number
  shared: boolean
  file: string | null
  fileKind: 'file' | 'shmem' | null
  anonVma: number | null
  /** Modern model: the anon_vmas this VMA is chained to (oldest first). */
  anonVmaChain: number[]
}

export function vmaView (v: Vma): VmaView {
  return {
    id: v.id,
    start: v.start,
    end: v.end,
    pages: v.pages,
    pgoff: v.pgoff,
    prot: vmFlagsToProt(v.flags),
    flags: vmFlagNames(v.flags),
    flagsRaw: v.flags,
    shared: v.isShared,
    file: v.mapping?.name ?? null,
    fileKind: v.mapping?.kind ?? null,
    anonVma: v.anonVma?.id ?? null,
    anonVmaChain: v.chain.map((c) => c.anonVma.id)
  }
}

/** RSS as the session's kernel counts it: 6.18's per-type counters (MM_ANONPAGES, ...), 2.6.11's mm->rss and mm->anon_rss. */
export type RssView = { anon: number, file: number, shmem: number, swap: number } | { rss: number, anon_rss: number }

export interface ProcessView {
  pid: number
  name: string | null
  parent: number | null
  vmas: number
  rss: RssView
  pageTablePages: number
}

export function processView (k: KernelState, mm: Mm): ProcessView {
  return { pid: mm.pid, name: mm.name, parent: mm.parentPid, vmas: mm.vmas.length, rss: k.model.rssView(mm.rss), pageTablePages: mm.pgtable.tablePages }
}

export interface LevelView {
  level: LevelEntry['level']
  tablePfn: number
  index: number
  raw: string
  /** Upper levels: the next table's PFN; the PTE level: the decoded entry. */
  next?: number
  pte?: DecodedPte
}

export function levelView (e: LevelEntry, layout: PteLayout): LevelView {
  if (e.level === 'pte') return { level: e.level, tablePfn: e.tablePfn, index: e.index, raw: layout.raw(e.value), pte: decodePte(e.value, layout) }
  return { level: e.level, tablePfn: e.tablePfn, index: e.index, raw: '0x' + e.value.toString(16), next: e.value === 0 ? undefined : Math.floor(e.value / 4096) }
}

export interface FileView {
  name: string
  kind: 'file' | 'shmem'
  pages: number
  cached: number
}

export function fileView (s: AddressSpace): FileView {
  return { name: s.name, kind: s.kind, pages: s.pages, cached: s.cache.size }
}
