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

/** The headers of a session's POST routes: an optional Idempotency-Key (other headers pass untouched). */
export const IdempotencyHeaders = z.looseObject({
  'idempotency-key': z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, '1 to 128 letters, digits, "_", ".", ":" or "-"').optional()
    .meta({ description: 'Makes a retry safe: a request repeated with the same key (same route and body) returns the first reply, marked Idempotent-Replayed: true, instead of applying the operation again; across a failover too when sessions are durable. A session remembers its last 1,000 keys.' })
})
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

/**
 * Every error status the API sends, with what it means; each route lists only those it can give
 * (errors() below). 500 is not among them: it is a bug, not part of the contract (the test suite
 * fails on any 500, see test/helper.ts).
 */
const ERROR_STATUSES = {
  400: 'validation: a path parameter, the query or the body does not match its schema, or the body is not valid JSON; invalid_argument: the simulated system call refuses its arguments (EINVAL, EFAULT, ENOMEM for an unmapped range)',
  401: 'unauthorized: no bearer token, or not the token this route needs',
  403: 'forbidden: the route is disabled on this server',
  404: 'not_found: the session has ended (deleted or idle too long), or the pid, PFN or file named does not exist',
  409: 'conflict: the request collides with existing state (EEXIST): a taken process or file name, a MAP_FIXED_NOREPLACE overlap; or its Idempotency-Key was used for another request, or for one still in progress',
  413: 'limit: the request body is larger than the server accepts, or asks for limits above the server\'s',
  415: 'unsupported: the body is not JSON (Content-Type)',
  422: 'segfault, bus_error: an access the process would die of (SIGSEGV, SIGBUS; nothing changes); unsupported: a valid request this object cannot take (e.g. an rmap operation on the zero page); batch_failed: an op of an atomic batch failed (nothing was applied)',
  426: 'validation: a plain GET of the WebSocket route; connect with Upgrade: websocket',
  429: 'limit: the client\'s request rate (RATE_LIMIT_PER_MINUTE), or a limit of the session or the server the operation would exceed (frames, processes, VMAs, files, swap slots, sessions)',
  503: 'unavailable: the server is overloaded (event loop or heap), or the durable store (Redis) could not take the operation, or another process serves the session right now; retry after the Retry-After header\'s seconds (with the same Idempotency-Key)'
} as const

export type ErrorStatus = keyof typeof ERROR_STATUSES

/** An error response as a route schema states it: its meaning, and the one error shape. */
export interface ErrorResponse { description: string, content: { 'application/json': { schema: typeof ErrorReply } } }

/** The error responses of a route: exactly the statuses it can send, each with the Error shape. */
export function errors<S extends ErrorStatus> (...statuses: S[]): Record<S, ErrorResponse> {
  const out = {} as Record<S, ErrorResponse>
  for (const status of statuses) out[status] = { description: ERROR_STATUSES[status], content: { 'application/json': { schema: ErrorReply } } }
  return out
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
