/**
 * The engine's event stream: every PTE change and every structural change, in one sequence-numbered
 * order. Events are plain objects built only when someone listens (check `active` first on hot paths);
 * an operation's events are all emitted before it returns.
 */
export type FaultPath =
  | 'none' | 'zero_page' | 'anon_alloc' | 'file_read' | 'shared_write' | 'private_file_cow'
  | 'cow_copy' | 'cow_reuse' | 'zero_page_cow' | 'shared_write_notify' | 'swap_in' | 'sigsegv' | 'sigbus'

export interface Cause {
  /** The operation: fork, access, munmap, try_to_unmap, ... */
  readonly op: string
  readonly pid?: number
  /** For faults: the kernel path taken. */
  path?: FaultPath
  /** An opaque tag from the caller, e.g. the HTTP request id. */
  readonly tag?: string
}

export type PteEventType = 'pte.set' | 'pte.cleared' | 'pte.changed'
export type EventType =
  | PteEventType
  | 'frame.allocated' | 'frame.freed'
  | 'vma.created' | 'vma.split' | 'vma.merged' | 'vma.removed' | 'vma.changed' | 'vma.moved'
  | 'process.spawned' | 'process.forked' | 'process.exited'
  | 'anon_vma.created' | 'anon_vma.freed'

export interface VmaRef {
  id: number
  start: number
  end: number
  pgoff: number
  flags: number
}

export interface SimEvent {
  seq: number
  type: EventType
  cause: Cause
  pid?: number
  addr?: number
  /** PTE values (see pte.ts) for pte.* events. */
  before?: number
  after?: number
  pfn?: number
  /** Frame kind for frame.* events. */
  kind?: string
  vma?: VmaRef
  /** The other VMA of a split or merge, or the old place of a moved VMA. */
  other?: VmaRef
  parent?: number
  child?: number
  anonVma?: number
}

export type EventListener = (event: SimEvent) => void

/**
 * A listener's way to take PTE events, nearly all of the stream, as plain values: when every listener
 * has one, a PTE change builds no event object at all (a fork + exit of 4,096 pages makes 8,192).
 */
export type PteListener = (seq: number, type: PteEventType, cause: Cause, pid: number, addr: number, before: number, after: number) => void

interface Listener { fn: EventListener, pte: PteListener | undefined }

export class EventBus {
  private readonly listeners: Listener[] = []
  seq = 0

  get active (): boolean { return this.listeners.length > 0 }

  subscribe (fn: EventListener, pte?: PteListener): () => void {
    const l: Listener = { fn, pte }
    this.listeners.push(l)
    return () => {
      const i = this.listeners.indexOf(l)
      if (i >= 0) this.listeners.splice(i, 1)
    }
  }

  emit (event: Omit<SimEvent, 'seq'>): void {
    const e = event as SimEvent
    e.seq = ++this.seq
    for (const l of this.listeners) l.fn(e)
  }

  /** A PTE event: the same sequence and order as emit(); the object is built only for a listener without a PteListener. */
  emitPte (type: PteEventType, cause: Cause, pid: number, addr: number, before: number, after: number): void {
    const seq = ++this.seq
    let e: SimEvent | undefined
    for (const l of this.listeners) {
      if (l.pte !== undefined) l.pte(seq, type, cause, pid, addr, before, after)
      else l.fn(e ??= { type, cause, pid, addr, before, after, seq })
    }
  }
}
