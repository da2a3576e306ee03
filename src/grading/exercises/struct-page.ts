import { hex } from '../../sim/index.js'
import { ANON, FILE_AT, anonFamily } from './family.js'
import type { Topic } from './topic.js'

/** struct page: _count, _mapcount, the mapping tag and index of a mapped frame. */
export const structPage: Topic = {
  title: (kernel) => `struct page: _count, _mapcount, mapping and index (${kernel})`,
  generate (b, difficulty) {
    const pages = anonFamily(b, difficulty)
    b.file('f', 4)
    b.op({ op: 'mmap', proc: 'P', addr: hex(FILE_AT), pages: 4, kind: 'file', file: 'f', shared: true })
    b.fork('P', 'F')
    for (const p of ['P', 'F']) for (let i = 0; i < 4; i++) if (b.rng.chance(0.5)) b.op({ op: 'read', proc: p, addr: hex(FILE_AT + i * 4096) })
    const candidates = b.live().flatMap((p) => b.mappedIn(p, ANON, pages, 'anon').concat(b.mappedIn(p, FILE_AT, 4, 'file')).map((addr) => ({ p, addr })))
    const { p, addr } = b.rng.pick(candidates)
    const f = b.sim.frame(b.pfnAt(p, addr) as number)
    const old = b.kernel === '2.6.11'
    const bias = old ? '2.6.11 stores _count biased by -1 (page_count = _count + 1)' : '6.18 _count is the reference count itself'
    return [{
      question: {
        id: 'q1',
        kind: 'parts',
        prompt: `For the frame ${b.describe(p)} maps at ${hex(addr)}: its ${b.kernel === '2.6.11' ? '_count' : '_refcount (the part is named _count)'} and _mapcount as struct page stores them, its index, and bit 0 of its mapping (PAGE_MAPPING_ANON, 1 or 0).`,
        parts: ['_count', '_mapcount', 'index', 'anon'],
        points: 4,
        about: { pid: b.pid(p), addr: hex(addr) }
      },
      key: {
        answer: { _count: f._count, _mapcount: f._mapcount, index: f.index, anon: f.mapping.anon ? 1 : 0 },
        rule: `references: one per mapping PTE${f.kind === 'file' ? ' plus the page cache\'s' : ''}${f.swapSlot !== null ? ' plus the swap cache\'s' : ''}; ${bias}; _mapcount is the number of PTEs mapping it minus 1; index is ${f.kind === 'anon' ? 'the page\'s offset in its anon_vma: vm_pgoff + (address - vm_start) / PAGE_SIZE, vm_pgoff being the mmap address / PAGE_SIZE for anonymous memory' : 'its offset in the file'}; mapping has bit 0 set for an anon_vma, clear for an address_space`
      }
    }]
  }
}
