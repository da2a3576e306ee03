import { PAGE_SIZE, hex } from '../../sim/index.js'
import { FILE_AT } from './family.js'
import type { Topic } from './topic.js'

/** The address formula vm_start + (index - vm_pgoff) * PAGE_SIZE after splits, mremap and munmap. */
export const address: Topic = {
  title: (kernel) => `Where a file page is mapped: vm_start + (index - vm_pgoff) * PAGE_SIZE (${kernel})`,
  generate (b, difficulty) {
    const r = b.rng
    const filePages = 12 + 4 * difficulty
    b.file('f', filePages)
    b.spawn('P')
    const offset = r.int(0, 4)
    const pages = r.int(6, filePages - offset)
    b.op({ op: 'mmap', proc: 'P', addr: hex(FILE_AT), pages, kind: 'file', file: 'f', offset })
    // Changes that move pieces of the mapping around.
    const steps = difficulty + 1
    for (let s = 0; s < steps; s++) {
      const vmas = b.sim.processInfo(b.pid('P')).vmaList.filter((v) => v.file === 'f')
      const v = r.pick(vmas)
      const vPages = (v.end - v.start) / PAGE_SIZE
      const kind = r.pick(vPages > 2 ? ['mprotect', 'munmap', 'mremap'] as const : ['mremap'] as const)
      if (kind === 'mprotect') {
        b.op({ op: 'mprotect', proc: 'P', addr: hex(v.start + r.int(1, vPages - 2) * PAGE_SIZE), pages: 1, prot: 'r' })
      } else if (kind === 'munmap') {
        b.op({ op: 'munmap', proc: 'P', addr: hex(v.start + r.int(1, vPages - 2) * PAGE_SIZE), pages: 1 })
      } else {
        b.op({ op: 'mremap', proc: 'P', addr: hex(v.start), pages: vPages, newPages: vPages, newAddr: hex(0x40000000 + s * 0x1000000), mayMove: true })
      }
    }
    const vmas = b.sim.processInfo(b.pid('P')).vmaList.filter((v) => v.file === 'f')
    const v = r.pick(vmas)
    const index = v.pgoff + r.int(0, (v.end - v.start) / PAGE_SIZE - 1)
    const addr = v.start + (index - v.pgoff) * PAGE_SIZE
    return [{
      question: { id: 'q1', kind: 'address', prompt: `Which virtual address of ${b.describe('P')} covers page ${index} of file f (where a read by P would find that page)?`, points: 2, about: { pid: b.pid('P'), file: 'f', index } },
      key: { answer: hex(addr), rule: `the VMA [${hex(v.start)}, ${hex(v.end)}) has vm_pgoff ${v.pgoff}: vm_start + (index - vm_pgoff) * PAGE_SIZE = ${hex(v.start)} + (${index} - ${v.pgoff}) * 4096 = ${hex(addr)} (a split keeps vm_pgoff continuous: __split_vma adds the pages below the cut; mremap moves vm_start and keeps vm_pgoff)` }
    }]
  }
}
