import { z } from 'zod'
import type { ProcessView, VmaView } from '../src/sim/index.js'
import { forkOp } from '../src/sim/ops/fork.js'
import { spawnOp } from '../src/sim/ops/spawn.js'
import { AddressOut, toHex } from './common.js'

export const SpawnBody = spawnOp.fields.pick({ name: true })
export const ForkBody = forkOp.fields.pick({ name: true })

export const Vma = z.object({
  id: z.number().int(),
  start: AddressOut,
  end: AddressOut,
  pages: z.number().int(),
  pgoff: z.number().int().meta({ description: 'vm_pgoff: offset of vm_start in the mapped object, in pages' }),
  prot: z.string(),
  flags: z.array(z.string()),
  flagsRaw: z.number().int(),
  shared: z.boolean(),
  file: z.string().nullable(),
  fileKind: z.enum(['file', 'shmem']).nullable(),
  anonVma: z.number().int().nullable(),
  anonVmaChain: z.array(z.number().int()).meta({ description: '6.18: the anon_vmas this VMA is chained to, oldest first' })
}).meta({ id: 'Vma' })

export const Process = z.object({
  pid: z.number().int(),
  name: z.string().nullable(),
  parent: z.number().int().nullable(),
  vmas: z.number().int(),
  rss: z.union([
    z.object({ anon: z.number().int(), file: z.number().int(), shmem: z.number().int(), swap: z.number().int() }).strict(),
    z.object({ rss: z.number().int(), anon_rss: z.number().int() }).strict()
  ]).meta({ description: 'RSS as the session\'s kernel counts it: 6.18 MM_ANONPAGES/MM_FILEPAGES/MM_SHMEMPAGES/MM_SWAPENTS; 2.6.11 mm->rss and mm->anon_rss' }),
  pageTablePages: z.number().int()
}).meta({ id: 'Process' })

export const ProcessDetail = Process.extend({ vmaList: z.array(Vma) })
export const ProcessesQuery = z.object({
  vmas: z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1').default(false)
    .meta({ description: 'Include each process\'s VMAs (vmaList, as GET /processes/{pid} gives them): the whole machine\'s layout in one consistent read' })
})
export const ProcessList = z.object({ processes: z.array(Process.extend({ vmaList: z.array(Vma).optional() })) })

export const vmaOut = (v: VmaView): z.infer<typeof Vma> => ({ ...v, start: toHex(v.start), end: toHex(v.end) })
export const processOut = (p: ProcessView): z.infer<typeof Process> => p
