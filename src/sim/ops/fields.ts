import { z } from 'zod'
import { InvalidArgumentError } from '../errors.js'
import { PROTS } from '../vma.js'

/**
 * The fields every operation, route and scenario shares, and the one address parser. The op
 * definitions (ops/*.ts), the HTTP bodies (schemas/) and the scenario format all use these.
 */

const HEX_ADDRESS = /^0x[0-9a-fA-F]{1,16}$/
const DECIMAL = /^[0-9]{1,16}$/
const ADDRESS_FORMS = 'a hex string like "0x10000000" or an integer'

/**
 * An address as a number, or undefined when `v` is not one: a hex string ("0x10000000") or a
 * non-negative integer, below 2^53 (beyond it no canonical user address lies, and a double would
 * round it). `decimal` also takes a decimal string: a query string's spelling of an integer.
 */
export function addressValue (v: unknown, decimal = false): number | undefined {
  let n: number
  if (typeof v === 'number') n = v
  else if (typeof v === 'string' && HEX_ADDRESS.test(v)) n = Number.parseInt(v.slice(2), 16)
  else if (typeof v === 'string' && decimal && DECIMAL.test(v)) n = Number(v)
  else return undefined
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined
}

/** The message for a value that is not an address; other values are named by type (they may be huge or deep). */
function notAnAddress (v: unknown): string {
  const what = typeof v === 'string'
    ? JSON.stringify(v.length > 64 ? v.slice(0, 64) + '…' : v)
    : typeof v === 'number'
      ? String(v)
      : Array.isArray(v) ? 'an array' : v === null ? 'null' : `a ${typeof v}`
  return `${what} is not an address (${ADDRESS_FORMS})`
}

/** The address in `v`, or an InvalidArgumentError (EINVAL) naming it. */
export function parseAddress (v: string | number): number {
  const n = addressValue(v)
  if (n === undefined) throw new InvalidArgumentError(notAnAddress(v), 'EINVAL', { addr: v })
  return n
}

/**
 * An op's address as a number: a number as it is (each operation judges its range and alignment, with
 * the errno its system call gives), a string parsed by parseAddress.
 */
export const addressArg = (v: string | number): number => typeof v === 'number' ? v : parseAddress(v)

/** A virtual address in a JSON body, an op or a scenario: a hex string or an integer. */
const addressError = (issue: { input?: unknown }): string => notAnAddress(issue.input)
export const Address = z.union([
  z.string().regex(HEX_ADDRESS, { error: addressError }),
  z.number().int({ error: addressError, abort: true }).nonnegative({ error: addressError, abort: true }).max(Number.MAX_SAFE_INTEGER, { error: addressError })
], { error: addressError })
  // Hex strings of up to 16 digits may still be past 2^53; checked once the shape is right.
  .refine((v) => addressValue(v) !== undefined, { error: addressError, when: (payload) => payload.issues.length === 0 })
  .meta({ description: `Virtual address: ${ADDRESS_FORMS}`, examples: ['0x10000000'] })

/** A virtual address in a query string, where an integer is spelled in decimal; parsed to a number. */
export const AddressQuery = z.string().transform((v, ctx) => {
  const n = addressValue(v, true)
  if (n === undefined) {
    ctx.addIssue({ code: 'custom', message: notAnAddress(v).replace('an integer', 'a decimal integer') })
    return z.NEVER
  }
  return n
}).meta({ description: 'Virtual address: hex string or decimal integer', examples: ['0x10000000'] })

export const Pages = z.number().int().min(1).max(2 ** 36).meta({ description: 'A length in 4 KiB pages' })
export const PageOffset = z.number().int().min(0).max(2 ** 36).meta({ description: 'An offset in 4 KiB pages' })

export const Prot = z.enum(PROTS, { error: 'prot is any of r, w, x in that order (e.g. "rw", "rx") or "none"' })
  .meta({ description: 'Protection: any of r, w, x in that order, or "none"', examples: ['rw'] })

export const ProcName = z.string().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/, 'a process name is 1-64 letters, digits, "_", "." or "-"')
  .meta({ description: 'A process name, unique among live processes' })
export const Pid = z.number().int().min(1).max(2 ** 31)
export const Pfn = z.number().int().min(0).max(2 ** 40).meta({ description: 'A page frame number' })
export const FileName = z.string().min(1).max(255).regex(/^[^/]+$/, 'a file name is 1 to 255 characters without "/"')
export const ProbeLabel = z.string().min(1).max(128)

/** How an op names its process: by pid, or by the name it was given at spawn or fork. */
export const ProcRef = {
  pid: Pid.optional().meta({ description: 'The process, by pid' }),
  proc: ProcName.optional().meta({ description: 'The process, by name (given at spawn or fork)' })
}
