import { PAGE_SIZE, applyOp, hex, type Op, type Simulator } from '../../sim/index.js'
import { ANON, anonFamily } from './family.js'
import type { Topic } from './topic.js'

/** What a student sees of a state: each process's VMAs and the mapcount of what it maps in the region. */
function describeState (sim: Simulator, pages: number): string {
  return sim.processes().map((p) => {
    const vmas = sim.processInfo(p.pid).vmaList.map((v) => `[${hex(v.start)}, ${hex(v.end)}) ${v.prot}`).join(' ')
    const maps = [...Array(pages).keys()].map((i) => {
      const pfn = sim.translate(p.pid, ANON + i * PAGE_SIZE).pfn
      if (pfn === null) return '-'
      const f = sim.frame(pfn)
      return f.kind === 'zero' ? 'z' : String(f.mapcount)
    }).join(' ')
    // The child a fork choice makes is named N in the op: shown as "new child".
    const name = p.name === 'N' ? 'new child' : (p.name ?? `pid ${p.pid}`)
    return `${name} (pid ${p.pid}): VMAs ${vmas}; mapcounts of the pages it maps in the region: ${maps}`
  }).join('\n')
}

const spell = (o: Op): string => {
  const rest = Object.entries(o).filter(([k]) => k !== 'op').map(([k, v]) => `${k}: ${String(v)}`).join(', ')
  return `${o.op}(${rest})`
}

/** The inverse question: which single operation turns the setup's state into the one shown? */
export const inverse: Topic = {
  title: (kernel) => `Which operation happened? (${kernel})`,
  generate (b, difficulty) {
    const r = b.rng
    const pages = anonFamily(b, difficulty)
    const before = describeState(b.sim, pages)
    // Accesses first: their effects show only in mapcounts, so the student must reason about COW.
    // Operations that change the VMA lists (read straight off the display) are only a fallback.
    const accesses: Op[] = []
    const structural: Op[] = []
    for (const p of b.live()) {
      for (let page = 0; page < pages; page++) {
        const addr = hex(ANON + page * PAGE_SIZE)
        accesses.push({ op: 'write', proc: p, addr }, { op: 'read', proc: p, addr })
      }
      const addr = hex(ANON + r.int(0, pages - 1) * PAGE_SIZE)
      structural.push({ op: 'munmap', proc: p, addr, pages: 1 }, { op: 'mprotect', proc: p, addr, pages: 1, prot: 'r' }, { op: 'fork', proc: p, child: 'N' })
      if (p !== 'P') structural.push({ op: 'exit', proc: p })
    }
    const outcomes = new Map<string, Op>()
    for (const o of [...r.shuffle(accesses), ...r.shuffle(structural)]) {
      if (outcomes.size === 4) break
      const s = b.fork2()
      try { applyOp(s, o) } catch { continue }
      const after = describeState(s, pages)
      if (after === before || outcomes.has(after)) continue
      outcomes.set(after, o)
    }
    const options = [...outcomes.entries()]
    const [shown, right] = r.pick(options)
    return [{
      question: {
        id: 'q1',
        kind: 'choice',
        prompt: `After the setup the machine looks like this:\n${before}\nOne more operation leaves it like this:\n${shown}\nWhich operation was it?`,
        choices: options.map(([, o]) => spell(o)),
        points: 3,
        about: { choices: options.map(([, o]) => o) }
      },
      key: { answer: options.findIndex(([, o]) => o === right), rule: `${spell(right)}: only this choice gives the state shown (the others give different VMA lists or mapcounts)` }
    }]
  }
}
