import type { KernelVersion, SimLimits } from '../sim/index.js'
import { Simulator } from '../sim/index.js'

/** One client's simulated machine and what the server keeps about it. */
export class Session {
  readonly sim: Simulator
  readonly createdAt: number
  lastUsedAt: number
  requests = 0

  constructor (
    readonly id: string,
    readonly tokenHash: Buffer,
    readonly kernel: KernelVersion,
    readonly limits: SimLimits,
    now: number
  ) {
    this.sim = new Simulator({ kernel, limits })
    this.createdAt = now
    this.lastUsedAt = now
  }
}
