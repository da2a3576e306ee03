import { hex, type KernelVersion, type Simulator } from '../../sim/index.js'
import type { SetupBuilder } from './setup-builder.js'
import type { KeyEntry, MappingAnswer, Question } from './types.js'

/** One question with its key entry, as a topic makes it. */
export interface Asked { question: Question, key: KeyEntry }

/** A topic: builds a setup on the builder, then asks questions about the resulting state. */
export interface Topic {
  title: (kernel: KernelVersion) => string
  generate: (b: SetupBuilder, difficulty: number) => Asked[]
}

/** Every (pid, address) mapping the frame, in pid then address order (the rmap walk's answer). */
export function mappingSet (sim: Simulator, pfn: number): MappingAnswer[] {
  return sim.rmap(pfn).mappings.map((m) => ({ pid: m.pid, addr: hex(m.addr) }))
}

/** How many VMAs the rmap walk of the frame visits (GET /frames/:pfn/rmap?trace=true). */
export function vmasVisited (sim: Simulator, pfn: number): number {
  return (sim.rmap(pfn, true).trace ?? []).filter((s) => s.step === 'vma').length
}
