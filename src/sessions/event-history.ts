import type { Cause, PteEventType, SimEvent } from '../sim/index.js'

const PTE_TYPES: readonly PteEventType[] = ['pte.set', 'pte.cleared', 'pte.changed']
const OBJECT = 255
const FIRST_CAPACITY = 64

/**
 * A session's recent events for `?since=` resume: a ring of at most `size` events that grows as they
 * arrive (an idle session holds nothing). PTE events, nearly all of the stream, are kept as numbers in
 * typed arrays rather than as the event objects: the ring would otherwise keep thousands of small
 * objects alive just long enough for the garbage collector to promote them, and a full ring of 4,096
 * objects is twice the memory. Replayed PTE events are rebuilt with the same fields.
 */
export class EventHistory {
  private capacity = 0
  private head = 0
  private n = 0
  private seqs = new Float64Array(0)
  private kinds = new Uint8Array(0)
  private pids = new Int32Array(0)
  private addrs = new Float64Array(0)
  private befores = new Float64Array(0)
  private afters = new Float64Array(0)
  private causes: Array<Cause | undefined> = []
  private objects: Array<SimEvent | undefined> = []

  constructor (readonly size: number) {}

  get count (): number { return this.n }

  /** The sequence number of the oldest event kept (undefined when empty). */
  get oldestSeq (): number | undefined { return this.n === 0 ? undefined : this.seqs[this.head] }

  push (e: SimEvent): void {
    if (PTE_TYPES.includes(e.type as PteEventType)) { this.pushPte(e.seq, e.type as PteEventType, e.cause, e.pid as number, e.addr as number, e.before as number, e.after as number); return }
    if (this.size === 0) return
    const slot = this.nextSlot()
    this.seqs[slot] = e.seq
    this.kinds[slot] = OBJECT
    this.causes[slot] = undefined
    this.objects[slot] = e
  }

  /** A PTE event given as its values (the simulator's PteListener): no object is kept or needed. */
  pushPte (seq: number, type: PteEventType, cause: Cause, pid: number, addr: number, before: number, after: number): void {
    if (this.size === 0) return
    const slot = this.nextSlot()
    this.seqs[slot] = seq
    this.kinds[slot] = PTE_TYPES.indexOf(type)
    this.pids[slot] = pid
    this.addrs[slot] = addr
    this.befores[slot] = before
    this.afters[slot] = after
    this.causes[slot] = cause
    this.objects[slot] = undefined
  }

  private nextSlot (): number {
    if (this.n < this.size) {
      if (this.n === this.capacity) this.grow()
      return this.n++
    }
    const slot = this.head
    this.head = (this.head + 1) % this.size
    return slot
  }

  /** Every kept event after `since`, oldest first. */
  forEachAfter (since: number, fn: (e: SimEvent) => void): void {
    for (let i = 0; i < this.n; i++) {
      const slot = (this.head + i) % this.size
      if (this.seqs[slot] <= since) continue
      const kind = this.kinds[slot]
      if (kind === OBJECT) { fn(this.objects[slot] as SimEvent); continue }
      fn({
        type: PTE_TYPES[kind],
        cause: this.causes[slot] as Cause,
        pid: this.pids[slot],
        addr: this.addrs[slot],
        before: this.befores[slot],
        after: this.afters[slot],
        seq: this.seqs[slot]
      })
    }
  }

  private grow (): void {
    const cap = Math.min(this.size, Math.max(FIRST_CAPACITY, this.capacity * 2))
    const widen = <T extends Float64Array | Int32Array | Uint8Array>(old: T, make: (n: number) => T): T => { const a = make(cap); a.set(old); return a }
    this.seqs = widen(this.seqs, (k) => new Float64Array(k))
    this.kinds = widen(this.kinds, (k) => new Uint8Array(k))
    this.pids = widen(this.pids, (k) => new Int32Array(k))
    this.addrs = widen(this.addrs, (k) => new Float64Array(k))
    this.befores = widen(this.befores, (k) => new Float64Array(k))
    this.afters = widen(this.afters, (k) => new Float64Array(k))
    this.capacity = cap
  }
}
