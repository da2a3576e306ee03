import { z } from 'zod'
import type { DecodedPte, FrameView, RmapResult, RmapStep } from '../src/sim/index.js'
import { AddressOut, Pte, toHex } from './common.js'
import { Level } from './memory.js'

export const FrameKind = z.enum(['free', 'zero', 'pagetable', 'kernel', 'anon', 'file', 'shmem', 'swapcache']).meta({ description: 'What the frame holds; a 2.6.11 session calls a page table a kernel page (its struct page cannot tell them apart)' })

export const Frame = z.object({
  pfn: z.number().int(),
  kind: FrameKind,
  flags: z.array(z.string()),
  flagsRaw: z.number().int(),
  _count: z.number().int().meta({ description: 'The raw _count field (2.6.11 keeps a -1 bias: page_count = _count + 1)' }),
  countBias: z.number().int(),
  refcount: z.number().int().meta({ description: 'References held (page_count)' }),
  _mapcount: z.number().int().meta({ description: 'The raw _mapcount field: -1 when no PTE maps the page' }),
  mapcount: z.number().int(),
  mapping: z.object({
    raw: z.string().meta({ description: 'The tagged pointer: bit 0 (PAGE_MAPPING_ANON) set for anonymous pages' }),
    anon: z.boolean(),
    kind: z.enum(['anon_vma', 'address_space', 'none']),
    id: z.number().int().nullable(),
    name: z.string().optional(),
    live: z.boolean()
  }),
  index: z.number().int().meta({ description: 'Offset of the page in its object, in pages' }),
  swapSlot: z.number().int().nullable()
}).meta({ id: 'Frame' })

export const frameOut = (f: FrameView): z.infer<typeof Frame> => f

export const FramesQuery = z.object({
  kind: FrameKind.optional(),
  mapped: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  file: z.string().min(1).max(255).optional(),
  after: z.coerce.number().int().min(0).optional().meta({ description: 'Only PFNs above this one (paging cursor)' }),
  limit: z.coerce.number().int().min(1).max(1024).default(256)
})
export const FrameList = z.object({ frames: z.array(Frame), next: z.number().int().nullable().meta({ description: 'Pass as `after` for the next page' }) })

export const RmapQuery = z.object({ trace: z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1').default(false) })

const PageStep = z.object({
  step: z.literal('page'), pfn: z.number().int(), mapping: Frame.shape.mapping, index: z.number().int(), note: z.string()
}).meta({ description: 'The page: its mapping decoded (anon_vma or address_space) and its index' })
const TreeNode = z.object({
  radix: z.number().int(), heap: z.number().int(), vmaIds: z.array(z.number().int()), overlaps: z.boolean()
}).meta({ description: 'A 2.6.11 priority-search-tree node the walk stepped onto: [radix_index, heap_index] = [vm_pgoff, last pgoff]' })
const ObjectStep = z.object({
  step: z.literal('object'),
  kind: z.enum(['anon_vma', 'address_space', 'none']),
  id: z.number().int().optional(),
  name: z.string().optional(),
  structure: z.string().optional().meta({ description: 'The structure searched: the anon_vma list, the anon_vma interval tree, or i_mmap' }),
  query: z.object({ first: z.number().int(), last: z.number().int() }).optional().meta({ description: 'The page-offset range searched' }),
  vmas: z.number().int().meta({ description: 'How many VMAs the search yields' }),
  treeNodes: z.array(TreeNode).optional(),
  note: z.string()
}).meta({ description: 'The object the mapping points to and how its VMAs are found' })
const VmaStep = z.object({
  step: z.literal('vma'),
  pid: z.number().int(),
  vmaId: z.number().int(),
  start: AddressOut,
  end: AddressOut,
  pgoff: z.number().int(),
  formula: z.string().meta({ description: 'vm_start + (index - vm_pgoff) * PAGE_SIZE, with the numbers' }),
  addr: AddressOut,
  levels: z.array(Level).meta({ description: 'pgd, pud, pmd and pte at that address, as far as tables exist' }),
  outcome: z.enum(['matched', 'outside_vma', 'no_page_table', 'pte_none', 'not_present', 'other_pfn']),
  note: z.string()
}).meta({ description: 'One VMA visited: the address computed, the page-table walk there, and whether its PTE maps the page' })
const DoneStep = z.object({ step: z.literal('done'), matched: z.number().int(), note: z.string() })
const Step = z.discriminatedUnion('step', [PageStep, ObjectStep, VmaStep, DoneStep]).meta({ id: 'RmapStep' })

export const Rmap = z.object({
  pfn: z.number().int(),
  kind: FrameKind,
  model: z.string(),
  mappings: z.array(z.object({ pid: z.number().int(), vmaId: z.number().int(), addr: AddressOut, pte: Pte })),
  trace: z.array(Step).optional()
}).meta({ id: 'Rmap' })

function stepOut (s: RmapStep): z.infer<typeof Step> {
  if (s.step === 'vma') {
    return {
      ...s,
      start: toHex(s.start),
      end: toHex(s.end),
      addr: toHex(s.addr)
    }
  }
  return s
}

export const rmapOut = (r: RmapResult): z.infer<typeof Rmap> => ({
  pfn: r.pfn,
  kind: r.kind,
  model: r.model,
  mappings: r.mappings.map((m) => ({ pid: m.pid, vmaId: m.vmaId, addr: toHex(m.addr), pte: m.pte })),
  trace: r.trace?.map(stepOut)
})

/**
 * The Rmap reply as JSON text, byte for byte what JSON.stringify(rmapOut(r)) gives (a test holds it
 * to that). It is the hot reply of the API: the mappings of a shared page repeat a handful of PTE
 * values (sim.rmap decodes each distinct value once and shares the object), so each distinct PTE is
 * written once per reply and spliced in. Measured in the server: the 8-mapping reply's stringify was
 * its largest single cost. Traces are rare and go through JSON.stringify.
 */
export function rmapJson (r: RmapResult): string {
  if (r.trace !== undefined) return JSON.stringify(rmapOut(r))
  // kind and model are enum values and addresses are hex digits: none of them needs escaping.
  let out = `{"pfn":${r.pfn},"kind":"${r.kind}","model":"${r.model}","mappings":[`
  const written = new Map<DecodedPte, string>()
  const mappings = r.mappings
  for (let i = 0; i < mappings.length; i++) {
    const m = mappings[i]
    let pte = written.get(m.pte)
    if (pte === undefined) {
      pte = JSON.stringify(m.pte)
      written.set(m.pte, pte)
    }
    out += `${i === 0 ? '' : ','}{"pid":${m.pid},"vmaId":${m.vmaId},"addr":"${toHex(m.addr)}","pte":${pte}}`
  }
  return out + ']}'
}

const WalkTrace = z.array(Step).optional().meta({ description: 'With ?trace=true: the rmap walk the operation made, step by step, and where it stopped' })
export const Referenced = z.object({ referenced: z.number().int(), ptes: z.number().int(), trace: WalkTrace })
export const Unmap = z.object({
  unmapped: z.number().int(), success: z.boolean(), reason: z.string().optional(), swapSlot: z.number().int().optional(), freed: z.boolean(), dirty: z.boolean(), trace: WalkTrace
})

/** A traced rmap operation's result with its walk's addresses in hex. */
export const withTraceOut = <R extends { trace?: RmapStep[] }>(r: R): Omit<R, 'trace'> & { trace?: Array<z.infer<typeof Step>> } => ({ ...r, trace: r.trace?.map(stepOut) })
export const Mkclean = z.object({ cleaned: z.number().int(), wasDirty: z.boolean() })
export const Migrate = z.object({ newPfn: z.number().int(), remapped: z.number().int() })
export { AddressOut }
