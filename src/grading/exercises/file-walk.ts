import { hex } from '../../sim/index.js'
import { FILE_AT, fileSharers } from './family.js'
import { mappingSet, vmasVisited, type Topic } from './topic.js'

/** The rmap walk of a page-cache page: i_mmap (2.6.11 priority tree, 6.18 interval tree). */
export const fileWalk: Topic = {
  title: (kernel) => `The rmap walk of a file page (${kernel})`,
  generate (b, difficulty) {
    fileSharers(b, difficulty)
    // Every process maps f at FILE_AT: make sure some page is in the cache to ask about.
    if (b.sim.fileInfo('f').cache.length === 0) b.op({ op: 'read', proc: 'P', addr: hex(FILE_AT) })
    const cached = b.sim.fileInfo('f').cache.filter((c) => c.mapcount > 0)
    const page = b.rng.pick(cached.length > 0 ? cached : b.sim.fileInfo('f').cache)
    const old = b.kernel === '2.6.11'
    const structure = old ? 'the i_mmap priority search tree (vma_prio_tree_foreach)' : 'the i_mmap interval tree (vma_interval_tree_foreach)'
    return [
      {
        question: { id: 'q1', kind: 'mapping-set', prompt: `List every (pid, virtual address) that maps page ${page.index} of file f (the page-cache page).`, points: 4, about: { file: 'f', index: page.index } },
        key: {
          answer: mappingSet(b.sim, page.pfn),
          rule: `page->mapping is f's address_space (bit 0 clear); ${structure} gives the VMAs whose [vm_pgoff, vm_pgoff + pages - 1] holds index ${page.index}; each maps it at vm_start + (index - vm_pgoff) * PAGE_SIZE if its PTE there holds this PFN: a private mapping that wrote the page maps its own anonymous copy instead (${old ? 'do_no_page or do_wp_page' : 'do_cow_fault or wp_page_copy'})`
        }
      },
      {
        question: { id: 'q2', kind: 'number', prompt: 'How many VMAs does the walk of that page visit?', points: 2, about: { file: 'f', index: page.index } },
        key: { answer: vmasVisited(b.sim, page.pfn), rule: `every VMA of f whose pgoff range holds index ${page.index}, shared or private, mapping the page or not (${structure})` }
      }
    ]
  }
}
