import { PAGE_SIZE, hex } from '../../sim/index.js'
import type { SetupBuilder } from './setup-builder.js'

/** Where the generated anonymous region and the file mappings go. */
export const ANON = 0x10000000
export const FILE_AT = 0x20000000

/**
 * A fork family over one private anonymous region: P maps and writes some of it, then processes fork
 * and write (COW copies, or reuse) and read; harder exercises add more forks, a partial munmap, an
 * mprotect split and an exit. Returns the region's size in pages.
 */
export function anonFamily (b: SetupBuilder, difficulty: number): number {
  const r = b.rng
  const pages = 3 + difficulty * 2
  b.spawn('P')
  b.op({ op: 'mmap', proc: 'P', addr: hex(ANON), pages, kind: 'anon' })
  for (const i of r.shuffle([...Array(pages).keys()]).slice(0, r.int(2, pages - 1))) b.op({ op: 'write', proc: 'P', addr: hex(ANON + i * PAGE_SIZE) })
  const forks = difficulty + 1
  for (let f = 1; f <= forks; f++) {
    const parent = r.pick(b.live())
    b.fork(parent, `C${f}`)
    const touches = r.int(1, difficulty + 1)
    for (let k = 0; k < touches; k++) {
      const who = r.pick(b.live())
      const page = r.int(0, pages - 1)
      b.op({ op: r.chance(0.75) ? 'write' : 'read', proc: who, addr: hex(ANON + page * PAGE_SIZE) })
    }
  }
  if (difficulty >= 2) {
    const who = r.pick(b.live())
    const page = r.int(1, pages - 2)
    if (r.chance(0.5)) b.op({ op: 'munmap', proc: who, addr: hex(ANON + page * PAGE_SIZE), pages: 1 })
    else b.op({ op: 'mprotect', proc: who, addr: hex(ANON + page * PAGE_SIZE), pages: 1, prot: 'r' })
  }
  if (difficulty >= 3) {
    const kids = b.live().filter((n) => n !== 'P')
    if (kids.length > 1) b.op({ op: 'exit', proc: r.pick(kids) })
  }
  return pages
}

/**
 * Processes mapping one file at different offsets and lengths, shared or private; some read pages,
 * private mappings write some (COW copies). Returns the file's size in pages.
 */
export function fileSharers (b: SetupBuilder, difficulty: number): number {
  const r = b.rng
  const filePages = 6 + difficulty * 2
  b.file('f', filePages)
  const procs = 1 + difficulty
  for (let p = 0; p < procs; p++) {
    const name = p === 0 ? 'P' : `Q${p}`
    b.spawn(name)
    const maps = r.int(1, difficulty)
    for (let m = 0; m < maps; m++) {
      const offset = r.int(0, filePages - 2)
      const pages = r.int(1, filePages - offset)
      const addr = FILE_AT + m * 0x100000
      const shared = r.chance(0.6)
      b.op({ op: 'mmap', proc: name, addr: hex(addr), pages, kind: 'file', file: 'f', offset, shared })
      for (let i = 0; i < pages; i++) {
        if (!r.chance(0.6)) continue
        b.op({ op: !shared && r.chance(0.3) ? 'write' : 'read', proc: name, addr: hex(addr + i * PAGE_SIZE) })
      }
    }
  }
  if (difficulty >= 2) b.fork('P', 'C1')
  return filePages
}
