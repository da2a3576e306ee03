import { z } from 'zod'
import type { FileDetail } from '../src/sim/index.js'
import { createFileOp } from '../src/sim/ops/create-file.js'
import { AddressOut, toHex } from './common.js'

export const CreateFileBody = createFileOp.fields.meta({ examples: [{ name: 'data', pages: 8 }] })

export const File = z.object({ name: z.string(), kind: z.enum(['file', 'shmem']), pages: z.number().int(), cached: z.number().int() }).meta({ id: 'File' })
export const FileList = z.object({ files: z.array(File) })
export const FileDetailSchema = File.extend({
  cache: z.array(z.object({ index: z.number().int(), pfn: z.number().int(), mapcount: z.number().int(), dirty: z.boolean() })),
  immap: z.array(z.object({ pid: z.number().int(), vmaId: z.number().int(), start: AddressOut, end: AddressOut, pgoff: z.number().int(), shared: z.boolean() }))
})
export const fileDetailOut = (f: FileDetail): z.infer<typeof FileDetailSchema> => ({
  ...f, immap: f.immap.map((v) => ({ ...v, start: toHex(v.start), end: toHex(v.end) }))
})
export const Evict = z.object({
  evicted: z.array(z.object({ index: z.number().int(), pfn: z.number().int() })),
  kept: z.array(z.object({ index: z.number().int(), pfn: z.number().int(), why: z.string() }))
})

export const Writeback = z.object({
  written: z.array(z.object({ index: z.number().int(), pfn: z.number().int() })).meta({ description: 'The dirty pages written, by index' }),
  ptesCleaned: z.number().int().meta({ description: 'Shared PTEs write-protected and cleaned first (6.18 folio_mkclean; 2.6.11 leaves PTEs as they are)' })
})
