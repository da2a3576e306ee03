import { PAGE_SIZE, hex } from '../../sim/index.js'
import { ANON, anonFamily } from './family.js'
import type { Topic } from './topic.js'

/** The four-level page-table walk of an address: the index at each level and what the PTE holds. */
export const pageWalk: Topic = {
  title: (kernel) => `The four-level page-table walk (${kernel})`,
  generate (b, difficulty) {
    const pages = anonFamily(b, difficulty)
    // Somewhere in user space with every level's index drawn (pgd 1..254: clear of the region at 0x10000000).
    const far = b.rng.int(1, 254) * 2 ** 39 + b.rng.int(0, 511) * 2 ** 30 + b.rng.int(0, 511) * 2 ** 21
    b.op({ op: 'mmap', proc: 'P', addr: hex(far), pages: 2, kind: 'anon', fixed: 'replace' })
    if (b.rng.chance(0.7)) b.op({ op: 'write', proc: 'P', addr: hex(far) })
    const who = b.rng.pick(b.live().filter((p) => p === 'P' || b.rng.chance(0.5)))
    const addr = b.rng.chance(0.75) && who === 'P' ? far + b.rng.int(0, 1) * PAGE_SIZE : ANON + b.rng.int(0, pages - 1) * PAGE_SIZE
    const t = b.sim.translate(b.pid(who), addr)
    const pte = t.levels.find((l) => l.level === 'pte')?.pte
    const present = pte !== undefined && pte.kind === 'present' ? 1 : 0
    return [{
      question: {
        id: 'q1',
        kind: 'parts',
        prompt: `Walk ${b.describe(who)}'s page tables for ${hex(addr)}: the index into the pgd, pud, pmd and PTE table, whether the PTE is present (1/0) and writable (1/0).`,
        parts: ['pgd', 'pud', 'pmd', 'pte', 'present', 'writable'],
        points: 6,
        about: { pid: b.pid(who), addr: hex(addr) }
      },
      key: {
        answer: {
          pgd: Math.floor(addr / 2 ** 39) % 512,
          pud: Math.floor(addr / 2 ** 30) % 512,
          pmd: Math.floor(addr / 2 ** 21) % 512,
          pte: Math.floor(addr / 2 ** 12) % 512,
          present,
          writable: present === 1 && pte?.writable === true ? 1 : 0
        },
        rule: 'x86-64 4-level paging: pgd index = address bits 47-39, pud 38-30, pmd 29-21, pte 20-12 (9 bits each); a PTE is writable only where the VMA allows writing and no COW is pending (fork write-protects private pages; a read of anonymous memory maps the zero page read-only)'
      }
    }]
  }
}
