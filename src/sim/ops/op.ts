import { z } from 'zod'
import { hex } from '../constants.js'
import type { SimError } from '../errors.js'
import type { KernelState } from '../kernel-state.js'
import type { Mm } from '../mm.js'
import { Address, addressArg } from './fields.js'

/**
 * One operation of the simulated machine, defined once, in the spirit of the kernel's ops tables:
 * its fields (the /ops vocabulary, the scenario format and the journal all use them), `check`, which
 * validates against the state and changes nothing, `apply`, which carries it out, and the journal
 * entry that replays it. The Simulator's commands, the batch vocabulary, the /ops schema and the
 * scenario format are all derived from the table of these (ops/index.ts).
 */
export interface OpDef<N extends string = string, F extends z.ZodRawShape = z.ZodRawShape, P extends OpPlan = OpPlan, R = unknown> {
  readonly name: N
  /** The op's fields, without `op`: what a command takes. */
  readonly fields: z.ZodObject<F, z.core.$strict>
  /** The whole op as /ops, scenarios and journals spell it: `{ op: name, ...fields }`. */
  readonly schema: z.ZodObject<{ op: z.ZodLiteral<N> } & F, z.core.$strict>
  /** The kernel operation named as the cause of the events it makes (fork, try_to_unmap, ...). */
  readonly cause: string
  /** Changes state (and so is journaled); false for ops that only look (probe). */
  readonly mutates: boolean
  /** Validates the op against the state; throws a SimError, changing nothing. */
  check: (k: KernelState, args: z.infer<z.ZodObject<F>>) => P
  /** Carries out a checked op (events go to k.cause); throws nothing a caller could have caused. */
  apply: (k: KernelState, args: z.infer<z.ZodObject<F>>, plan: P) => R
  /**
   * The journal entry that replays it, in the op's own vocabulary; null records nothing. Without it:
   * the op's fields as given, the process by pid (journalEntry). Addresses are kept as numbers and
   * written in hex when the journal is read (wireJournalOp).
   */
  journal?: (args: z.infer<z.ZodObject<F>>, plan: P, result: R) => JournalOp | null
  /** A result that fails the op in a batch or scenario: a signal kills the process. */
  failure?: (result: R) => SimError | undefined
}

/** What check hands to apply; `mm` is the process the op acts on (the cause of its events names it). */
export interface OpPlan { readonly mm?: Mm, readonly [detail: string]: unknown }

/** An entry of the journal: an op in the /ops vocabulary, with its process by pid. */
export interface JournalOp { op: string, [field: string]: unknown }

type DefInput<N extends string, F extends z.ZodRawShape, P extends OpPlan, R> = Omit<OpDef<N, F, P, R>, 'fields' | 'schema' | 'mutates'> & {
  fields: F
  mutates?: boolean
}

/**
 * A definition as the generic machinery holds it (the table's lookup, Simulator.run): its own field,
 * plan and result types are what its check and apply were checked against where it was defined.
 */
export const erase = (def: Pick<OpDef, 'name' | 'cause' | 'mutates'>): OpDef => def as OpDef

/** An op definition from its parts; its schemas are built from `fields`. */
export function defineOp<const N extends string, F extends z.ZodRawShape, P extends OpPlan, R> (def: DefInput<N, F, P, R>): OpDef<N, F, P, R> {
  return {
    ...def,
    mutates: def.mutates ?? true,
    fields: z.object(def.fields).strict(),
    schema: z.object({ op: z.literal(def.name), ...def.fields }).strict()
  }
}

/** Keys of an op's fields that hold addresses (Address, optional or not): hex when the journal is read. */
const addressKeys = new WeakMap<z.ZodRawShape, string[]>()
function addressFieldsOf (shape: z.ZodRawShape): string[] {
  let keys = addressKeys.get(shape)
  if (keys === undefined) {
    keys = Object.keys(shape).filter((key) => {
      let field: z.core.$ZodType = shape[key]
      while (field instanceof z.ZodOptional || field instanceof z.ZodNullable || field instanceof z.ZodDefault) field = field.unwrap()
      return field === Address
    })
    addressKeys.set(shape, keys)
  }
  return keys
}

/**
 * The journal entry of an op as given: `op`, the process by pid, then every field the op was given in
 * the order of its definition, addresses as numbers. Every option is kept, so a replay is exact.
 */
export function journalEntry (name: string, shape: z.ZodRawShape, args: Record<string, unknown>, mm: Mm | undefined): JournalOp {
  const entry: JournalOp = { op: name }
  if (mm !== undefined) entry.pid = mm.pid
  const addresses = addressFieldsOf(shape)
  for (const key of Object.keys(shape)) {
    if (key === 'pid' || key === 'proc') continue
    const v = args[key]
    if (v === undefined) continue
    entry[key] = addresses.includes(key) ? addressArg(v as string | number) : v
  }
  return entry
}

/** A journal entry as GET /journal shows it: the same op, its addresses in hex like every address the API prints. */
export function wireJournalOp (entry: JournalOp, shape: z.ZodRawShape): JournalOp {
  const out: JournalOp = { op: entry.op }
  const addresses = addressFieldsOf(shape)
  for (const [key, v] of Object.entries(entry)) {
    if (key !== 'op') out[key] = addresses.includes(key) && typeof v === 'number' ? hex(v) : v
  }
  return out
}
