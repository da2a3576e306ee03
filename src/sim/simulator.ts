import type { z } from 'zod'
import { InvalidArgumentError } from './errors.js'
import type { Cause, EventListener, PteListener } from './events.js'
import { DEFAULT_LIMITS, KernelState, type SimLimits } from './kernel-state.js'
import { KERNEL_VERSIONS, type KernelModel, type KernelVersion } from './models/kernel-model.js'
import { linux2611 } from './models/linux-2.6.11.js'
import { linux618 } from './models/linux-6.18.js'
import { OPS, OpSchema, opDef, unknownOp, type AnyOpDef, type Op } from './ops/index.js'
import { erase, journalEntry, wireJournalOp, type JournalOp, type OpDef, type OpPlan } from './ops/op.js'
import { Queries } from './queries.js'
import { restoreSnapshot, type Snapshot } from './snapshot.js'

export const MODELS: Record<KernelVersion, KernelModel> = { '2.6.11': linux2611, 6.18: linux618 }

export interface SimulatorOptions {
  /** The kernel model: 2.6.11 (default) or 6.18. */
  version?: KernelVersion
  limits?: Partial<SimLimits>
  /** How many ops the journal keeps; past it the journal is marked truncated (default 100,000). */
  journalLimit?: number
}

/** One command per op of the table: `sim.mmap({ pid, addr, pages })` runs the mmap op. */
type Commands = { [D in AnyOpDef as D['name']]: (args: z.infer<D['fields']>) => ReturnType<D['apply']> }

// The commands are added to the prototype from the op table below.
export interface Simulator extends Commands {}

/**
 * One simulated machine with one kernel model. Commands come from the op table (ops/index.ts), each
 * checked before it changes anything, so a thrown SimError leaves the state exactly as it was; every
 * change is reported, in order, to the event subscribers with the op as its cause, and every
 * successful mutation is journaled. The read-only side is Queries.
 */
export class Simulator extends Queries {
  /** Tag put on the cause of every event, e.g. the id of the HTTP request being served. */
  tag: string | undefined
  /** Every successful mutation, in order, in the op vocabulary: replaying it rebuilds the state. */
  readonly journal: JournalOp[] = []
  /** The journal reached its limit and dropped an op: it no longer replays the session (none is recorded after that). */
  journalTruncated = false
  /** True when the state came from a snapshot: the journal then starts from that snapshot. */
  fromSnapshot = false
  /** Told every journal entry as it is made, whether or not the in-memory journal keeps it (durability). */
  onJournal: ((entry: JournalOp) => void) | undefined
  private readonly journalLimit: number

  constructor (opts: SimulatorOptions = {}) {
    const version = opts.version ?? '2.6.11'
    if (!KERNEL_VERSIONS.includes(version)) throw new InvalidArgumentError(`unknown kernel model "${String(version)}"`)
    super(new KernelState(MODELS[version], { ...DEFAULT_LIMITS, ...opts.limits }))
    this.journalLimit = opts.journalLimit ?? 100_000
  }

  /** Every event, in order; with `pte`, PTE events go there as plain values instead of objects. */
  subscribe (fn: EventListener, pte?: PteListener): () => void { return this.state.events.subscribe(fn, pte) }

  /**
   * Runs one op: check (throws, nothing changed), then apply with the op as the cause of its events,
   * then the journal entry.
   */
  run<P extends OpPlan, R> (def: OpDef<string, z.ZodRawShape, P, R>, args: Record<string, unknown>): R {
    const k = this.state
    const plan = def.check(k, args)
    if (!def.mutates) return def.apply(k, args, plan)
    // The cause is set and restored here rather than through a closure: this is every command's path.
    const saved = k.cause
    k.cause = { op: def.cause, pid: plan.mm?.pid, tag: this.tag } satisfies Cause
    let result: R
    try { result = def.apply(k, args, plan) } finally { k.cause = saved }
    // Once the journal has dropped an op it is no replay any more: no entry is kept after that.
    if (!this.journalTruncated || this.onJournal !== undefined) {
      const entry = def.journal !== undefined ? def.journal(args, plan, result) : journalEntry(def.name, def.fields.shape, args, plan.mm)
      if (entry !== null) {
        if (!this.journalTruncated) {
          if (this.journal.length < this.journalLimit) this.journal.push(entry)
          else this.journalTruncated = true
        }
        this.onJournal?.(entry)
      }
    }
    return result
  }

  /** The journal as GET /journal serves it: addresses in hex, each entry checked against the op schema. */
  journalOps (): Op[] {
    return this.journal.map((e) => {
      const def = opDef(e.op)
      if (def === undefined) throw unknownOp(e.op)
      return OpSchema.parse(wireJournalOp(e, def.fields.shape))
    })
  }

  /** A new simulator in exactly the state of `snap`; throws InvalidArgumentError if it is inconsistent. */
  static fromSnapshot (snap: Snapshot, opts: { verify?: boolean, journalLimit?: number } = {}): Simulator {
    if (typeof snap !== 'object' || snap === null || !KERNEL_VERSIONS.includes(snap.kernel)) throw new InvalidArgumentError('snapshot: unknown kernel model')
    const sim = new Simulator({ version: snap.kernel, limits: snap.limits, journalLimit: opts.journalLimit })
    sim.fromSnapshot = true
    try {
      restoreSnapshot(sim.state, snap, opts.verify ?? true)
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw err
      throw new InvalidArgumentError(`snapshot: ${err instanceof Error ? err.message : String(err)}`)
    }
    return sim
  }

  /** Evicts every clean unmapped page-cache page of every file (echo 1 > drop_caches). */
  dropCaches (): number {
    let n = 0
    for (const f of [...this.state.files.values()]) n += this.evict({ file: f.name }).evicted.length
    return n
  }
}

for (const def of OPS) {
  const erased = erase(def)
  Object.defineProperty(Simulator.prototype, def.name, {
    value: function (this: Simulator, args: Record<string, unknown>) { return this.run(erased, args) },
    writable: true,
    configurable: true
  })
}
