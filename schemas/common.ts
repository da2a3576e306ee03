import { z } from 'zod'
import { fields, hex, type DecodedPte } from '../src/sim/index.js'

/** Shared pieces of the API's schemas: addresses, ids, errors, PTEs (the op fields come from src/sim/ops/fields.ts). */

/** An address in a body that the route needs as a number (filters, comparisons): the one parser's value. */
export const AddressIn = fields.Address.transform(fields.addressArg)
  .meta({ description: 'Virtual address: hex string or integer', examples: ['0x10000000'] })

/** The same in a query string, where everything arrives as a string. */
export const AddressQuery = fields.AddressQuery

export const AddressOut = z.string().meta({ description: 'Virtual address in hex', examples: ['0x10000000'] })
export const toHex = hex

export const { Address, Pages, Prot, ProcName } = fields

/** A decimal integer in a path segment (no blanks, signs, hex or exponents). */
const intParam = (min: number, max: number) => z.string().regex(/^[0-9]{1,15}$/, 'must be a decimal integer')
  .transform(Number).pipe(z.number().int().min(min).max(max))

export const SessionParams = z.object({ sid: z.string().min(1).max(64) })
export const PidParams = SessionParams.extend({ pid: intParam(1, 2 ** 31) })
export const PfnParams = SessionParams.extend({ pfn: intParam(0, 2 ** 40) })
export const FileParams = SessionParams.extend({ name: z.string().min(1).max(255) })

export const ErrorReply = z.object({
  error: z.object({
    code: z.string().meta({ description: 'Stable code: validation, invalid_argument, unauthorized, forbidden, not_found, conflict, segfault, bus_error, unsupported, limit, unavailable, internal' }),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional()
  })
}).meta({ id: 'Error' })

/** The error replies every session route may give. */
export const errorReplies = {
  400: ErrorReply, 401: ErrorReply, 404: ErrorReply, 409: ErrorReply, 413: ErrorReply, 422: ErrorReply, 429: ErrorReply, 500: ErrorReply
}

export const Pte = z.object({
  kind: z.enum(['none', 'present', 'protnone', 'swap', 'migration']),
  raw: z.string().meta({ description: 'The x86-64 value (NX in bit 63) for present entries; the simulator encoding for swap/migration entries' }),
  pfn: z.number().int().optional(),
  present: z.boolean().optional(),
  writable: z.boolean().optional(),
  user: z.boolean().optional(),
  accessed: z.boolean().optional(),
  dirty: z.boolean().optional(),
  special: z.boolean().optional(),
  noExec: z.boolean().optional(),
  swapOffset: z.number().int().optional(),
  exclusive: z.boolean().optional()
}).meta({ id: 'Pte' })

export const pteOut = (p: DecodedPte): z.infer<typeof Pte> => p

export const Empty = z.object({ ok: z.literal(true) })

/** Keys of engine error details that hold addresses: shown in hex like every other address. */
const ADDRESS_KEYS = new Set(['addr', 'newAddr', 'start', 'end', 'unmapped', 'vmaEnd'])

export function hexAddresses (details: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (details === undefined) return undefined
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(details)) {
    if (typeof v === 'number' && ADDRESS_KEYS.has(k) && Number.isSafeInteger(v) && v >= 0) out[k] = '0x' + v.toString(16)
    else if (v !== null && typeof v === 'object' && !Array.isArray(v)) out[k] = hexAddresses(v as Record<string, unknown>)
    else out[k] = v
  }
  return out
}
