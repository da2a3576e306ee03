import { z } from 'zod'
import type { AccessResult, PteEntryView, TranslateResult } from '../src/sim/index.js'
import { madviseOp } from '../src/sim/ops/madvise.js'
import { mmapOp } from '../src/sim/ops/mmap.js'
import { mprotectOp } from '../src/sim/ops/mprotect.js'
import { mremapOp } from '../src/sim/ops/mremap.js'
import { munmapOp } from '../src/sim/ops/munmap.js'
import { Address, AddressOut, AddressQuery, Pte, toHex } from './common.js'

/** The route bodies are the ops' own fields; the process comes from the path. */
const noProc = { pid: true, proc: true } as const

export const MmapBody = mmapOp.fields.omit({ ...noProc, kind: true }).meta({ examples: [{ addr: '0x10000000', pages: 4, prot: 'rw' }] })
export const RangeBody = munmapOp.fields.omit(noProc).meta({ examples: [{ addr: '0x10001000', pages: 1 }] })
export const MprotectBody = mprotectOp.fields.omit(noProc).meta({ examples: [{ addr: '0x10001000', pages: 1, prot: 'r' }] })
export const MremapBody = mremapOp.fields.omit(noProc).meta({ examples: [{ addr: '0x10000000', pages: 3, newPages: 5, newAddr: '0x50000000' }] })
export const MadviseBody = madviseOp.fields.omit(noProc).meta({ examples: [{ addr: '0x10000000', pages: 1, advice: 'dontneed' }] })
export const AccessBody = z.object({ addr: Address, op: z.enum(['read', 'write', 'exec']) }).strict().meta({ examples: [{ addr: '0x10000000', op: 'write' }] })

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
  copiedFrom: z.number().int().optional(),
  signal: z.enum(['SIGSEGV', 'SIGBUS']).optional().meta({ description: 'Only where the fault changed the state and the process still took a signal (2.6.11: an instruction fetch from a readable, non-executable page)' }),
  siCode: z.string().optional(),
  reason: z.string().optional()
}).meta({ id: 'Access' })

export const accessOut = (r: AccessResult): z.infer<typeof Access> => ({
  pid: r.pid,
  addr: toHex(r.addr),
  op: r.op,
  path: r.path,
  vmaId: r.vmaId,
  pteBefore: r.pteBefore,
  pte: r.pte,
  pfn: r.pfn,
  copiedFrom: r.copiedFrom,
  ...(r.signal !== undefined ? { signal: r.signal, siCode: r.siCode, reason: r.reason } : {})
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
export const translateOut = (t: TranslateResult): z.infer<typeof Translate> => ({ ...t, addr: toHex(t.addr) })

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
