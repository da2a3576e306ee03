import { PAGE_SIZE, Simulator, applyOp, hex, type KernelVersion, type Op } from '../../sim/index.js'
import type { Rng } from '../prng.js'

/**
 * Builds an exercise's setup while running it: every op is applied to an engine of the exercise's
 * kernel as it is recorded, so a generator can choose its next step from the state so far (a page
 * that is mapped, a process that is alive) and the answer key is read off the same engine.
 */
export class SetupBuilder {
  readonly sim: Simulator
  readonly ops: Op[] = []
  readonly pids: Record<string, number> = {}

  constructor (readonly kernel: KernelVersion, readonly rng: Rng) {
    this.sim = new Simulator({ version: kernel })
  }

  /** Applies and records an op; a failure here is a generator bug (the setup must replay cleanly). */
  op (o: Op): unknown {
    const r = applyOp(this.sim, o)
    this.ops.push(o)
    if (o.op === 'spawn' && typeof o.proc === 'string') this.pids[o.proc] = (r as { pid: number }).pid
    if (o.op === 'fork' && typeof o.child === 'string') this.pids[o.child] = (r as { pid: number }).pid
    return r
  }

  /** A file created where the setup reaches it (createFile), so a replay creates it at the same point. */
  file (name: string, pages: number): void {
    this.op({ op: 'createFile', name, pages })
  }

  spawn (proc: string): number { this.op({ op: 'spawn', proc }); return this.pid(proc) }
  fork (proc: string, child: string): number { this.op({ op: 'fork', proc, child }); return this.pid(child) }
  pid (proc: string): number {
    const pid = this.pids[proc]
    if (pid === undefined) throw new Error(`no process ${proc}`)
    return pid
  }

  /** Live processes of the setup, by name. */
  live (): string[] {
    const alive = new Set(this.sim.processes().map((p) => p.pid))
    return Object.keys(this.pids).filter((n) => alive.has(this.pids[n]))
  }

  /** The frame `proc` maps at `addr`, or null. */
  pfnAt (proc: string, addr: number): number | null {
    return this.sim.translate(this.pid(proc), addr).pfn
  }

  /** Addresses in [start, start + pages) where `proc` maps a frame of `kind`. */
  mappedIn (proc: string, start: number, pages: number, kind: 'anon' | 'file' | 'any' = 'any'): number[] {
    const out: number[] = []
    for (let i = 0; i < pages; i++) {
      const pfn = this.pfnAt(proc, start + i * PAGE_SIZE)
      if (pfn === null) continue
      const k = this.sim.frame(pfn).kind
      if (kind === 'any' ? k !== 'zero' : k === kind) out.push(start + i * PAGE_SIZE)
    }
    return out
  }

  /** A copy of the engine to ask "what if" on, leaving the setup as it is. */
  fork2 (): Simulator {
    return Simulator.fromSnapshot(this.sim.snapshot(), { verify: false })
  }

  /** The process name a pid has in this setup. */
  nameOf (pid: number): string {
    for (const [n, p] of Object.entries(this.pids)) if (p === pid) return n
    return `pid ${pid}`
  }

  describe (proc: string): string { return `${proc} (pid ${this.pid(proc)})` }
}

export const at = (base: number, page: number): string => hex(base + page * PAGE_SIZE)
