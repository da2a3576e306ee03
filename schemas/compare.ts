import { z } from 'zod'
import { AddressIn } from './common.js'

const Scalar = z.union([z.string(), z.number(), z.boolean(), z.null()])
const Fields = z.record(z.string(), z.union([Scalar, z.array(Scalar), z.record(z.string(), Scalar)]))

export const CompareBody = z.discriminatedUnion('target', [
  z.object({
    target: z.literal('frame'),
    pfn: z.number().int().min(0),
    expect: z.object({
      mappings: z.array(z.object({ pid: z.number().int().min(1), addr: AddressIn }).strict()).max(100000).optional()
    }).catchall(z.union([Scalar, z.array(Scalar), z.record(z.string(), Scalar)]))
  }).strict(),
  z.object({ target: z.literal('pte'), pid: z.number().int().min(1), addr: AddressIn, expect: Fields }).strict(),
  z.object({
    target: z.literal('process'),
    pid: z.number().int().min(1),
    expect: z.object({
      vmas: z.array(z.object({ start: AddressIn, end: AddressIn.optional() }).catchall(Scalar)).max(100000).optional(),
      rss: z.record(z.string(), z.number()).optional()
    }).strict()
  }).strict()
]).meta({
  examples: [{ target: 'frame', pfn: 4101, expect: { mapcount: 2, kind: 'anon', mappings: [{ pid: 1, addr: '0x10000000' }, { pid: 2, addr: '0x10000000' }] } }]
})

export const CompareReply = z.object({
  match: z.boolean(),
  mismatches: z.number().int(),
  diffs: z.array(z.object({ field: z.string(), expected: z.unknown(), actual: z.unknown(), ok: z.boolean() }))
})
