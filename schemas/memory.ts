import { z } from 'zod'
import type { AccessResult, LevelView, PteEntryView } from '../src/sim/index.js'
import { AddressIn, AddressOut, AddressQuery, Pages, Prot, Pte, toHex } from './common.js'

export const MmapBody = z.object({
  addr: AddressIn.optional().meta({ description: 'Where to map; without it the kernel picks (get_unmapped_area)' }),
  fixed: z.enum(['noreplace', 'replace', 'hint']).optional().meta({ description: 'How addr is used: MAP_FIXED_NOREPLACE (default), MAP_FIXED, or a hint' }),
  pages: Pages,
  prot: Prot.default('rw'),
  shared: z.boolean().default(false),
  file: z.string().min(1).max(255).optional().meta({ description: 'File to map; without it the mapping is anonymous' }),
  offset: z.number().int().min(0).max(2 ** 36).default(0).meta({ description: 'File offset in pages' })
}).strict().meta({ examples: [{ addr: '0x10000000', pages: 4, prot: 'rw' }] })

export const RangeBody = z.object({ addr: AddressIn, pages: Pages }).strict().meta({ examples: [{ addr: '0x10001000', pages: 1 }] })
export const MprotectBody = RangeBody.extend({ prot: Prot }).strict().meta({ examples: [{ addr: '0x10001000', pages: 1, prot: 'r' }] })
export const MremapBody = z.object({
  addr: AddressIn,
  pages: Pages,
  newPages: Pages,
  newAddr: AddressIn.optional().meta({ description: 'MREMAP_FIXED destination (must not overlap the old range)' }),
  mayMove: z.boolean().default(true).meta({ description: 'MREMAP_MAYMOVE' })
}).strict().meta({ examples: [{ addr: '0x10000000', pages: 3, newPages: 5, newAddr: '0x50000000' }] })
export const MadviseBody = RangeBody.extend({ advice: z.enum(['dontneed']) }).strict().meta({ examples: [{ addr: '0x10000000', pages: 1, advice: 'dontneed' }] })
export const AccessBody = z.object({ addr: AddressIn, op: z.enum(['read', 'write', 'exec']) }).strict().meta({ examples: [{ addr: '0x10000000', op: 'write' }] })

export const MremapReply = z.object({ addr: AddressOut })

export const Access = z.object({
  pid: z.number().int(),
  addr: AddressOut,
  op: z.enum(['read', 'write', 'exec']),
  path: z.string().meta({ description: 'Fault path: none, zero_page, anon_alloc, file_read, shared_write, private_file_cow, cow_copy, cow_reuse, zero_page_cow, shared_write_notify, swap_in' }),
  vmaId: z.number().int().optional(),
  pteBefore: Pte,
  pte: Pte,
  pfn: z.number().int().optional(),
  copiedFrom: z.number().int().optional()
}).meta({ id: 'Access' })

export const accessOut = (r: AccessResult): z.infer<typeof Access> => ({
  pid: r.pid, addr: toHex(r.addr), op: r.op, path: r.path, vmaId: r.vmaId, pteBefore: r.pteBefore, pte: r.pte, pfn: r.pfn, copiedFrom: r.copiedFrom
})

export const TranslateQuery = z.object({ addr: AddressQuery })
export const Level = z.object({
  level: z.enum(['pgd', 'pud', 'pmd', 'pte']),
  tablePfn: z.number().int(),
  index: z.number().int(),
  raw: z.string(),
  next: z.number().int().optional().meta({ description: 'Upper levels: PFN of the next table' }),
  pte: Pte.optional()
})
export const Translate = z.object({
  pid: z.number().int(),
  addr: AddressOut,
  vmaId: z.number().int().nullable(),
  levels: z.array(Level),
  pfn: z.number().int().nullable(),
  offset: z.number().int()
})
export const translateOut = (t: { pid: number, addr: number, vmaId: number | null, levels: LevelView[], pfn: number | null, offset: number }): z.infer<typeof Translate> => ({ ...t, addr: toHex(t.addr) })

export const PtesQuery = z.object({
  from: AddressQuery.optional(),
  to: AddressQuery.optional(),
  limit: z.coerce.number().int().min(1).max(4096).default(512)
})
export const PteList = z.object({
  entries: z.array(z.object({ addr: AddressOut, pte: Pte })),
  next: AddressOut.nullable().meta({ description: 'Pass as `from` for the next page; null at the end' })
})
export const pteListOut = (r: { entries: PteEntryView[], next: number | null }): z.infer<typeof PteList> =>
  ({ entries: r.entries.map((e) => ({ addr: toHex(e.addr), pte: e.pte })), next: r.next === null ? null : toHex(r.next) })
