import { hex } from '../../sim/index.js'
import { ANON, anonFamily } from './family.js'
import { mappingSet, vmasVisited, type Topic } from './topic.js'

/** The rmap walk of an anonymous page: its anon_vma (2.6.11 list, 6.18 anon_vma_chain tree). */
export const anonWalk: Topic = {
  title: (kernel) => `The rmap walk of an anonymous page (${kernel})`,
  generate (b, difficulty) {
    const pages = anonFamily(b, difficulty)
    const candidates = b.live().flatMap((p) => b.mappedIn(p, ANON, pages, 'anon').map((addr) => ({ p, addr })))
    const { p, addr } = b.rng.pick(candidates)
    const pfn = b.pfnAt(p, addr) as number
    const sim = b.sim
    const old = b.kernel === '2.6.11'
    const vma = sim.processInfo(b.pid(p)).vmaList.find((v) => v.start <= addr && addr < v.end)
    const walkRule = old
      ? 'page->mapping points to the anon_vma (bit 0 set); 2.6.11 walks every VMA on anon_vma->head (mm/rmap.c try_to_unmap_anon), computes vm_start + (index - vm_pgoff) * PAGE_SIZE in each and keeps the PTEs that map this PFN; a process that wrote the page after fork has its own copy (do_wp_page)'
      : 'page->mapping points to the anon_vma (bit 0 set); 6.18 queries its interval tree of anon_vma_chains for index (rmap_walk_anon), computes vm_start + (index - vm_pgoff) * PAGE_SIZE in each VMA and keeps the PTEs that map this PFN; a process that wrote the page after fork has its own copy (wp_page_copy) unless it could reuse it (wp_can_reuse_anon_folio)'
    const chain = vma?.anonVmaChain ?? []
    const walk = (sim.rmap(pfn, true).trace ?? []).filter((x) => x.step === 'vma')
    const first = walk[0]?.step === 'vma' ? walk[0].pid : 0
    const q3 = old
      ? {
          // 2.6.11 has one anon_vma per fork family: ask for the order of its list instead.
          question: { id: 'q3', kind: 'number' as const, prompt: 'Which process\'s VMA (pid) does the 2.6.11 walk visit first?', points: 2, about: { pid: b.pid(p), addr: hex(addr) } },
          key: { answer: first, rule: '2.6.11 anon_vma_link() and __anon_vma_link() add a VMA at the head of anon_vma->head (list_add): the walk visits the most recently linked VMA first (the last fork, or the newest piece of a split)' }
        }
      : {
          question: { id: 'q3', kind: 'number-set' as const, prompt: `Which anon_vmas is ${b.describe(p)}'s VMA at ${hex(addr)} linked to through its anon_vma_chain? (anon_vmas are numbered 1, 2, ... in the order they are created)`, points: 2, about: { pid: b.pid(p), addr: hex(addr) } },
          key: {
            answer: chain,
            rule: p === 'P'
              ? '6.18 anon_vma_prepare(): P\'s VMA got its own anon_vma at its first anonymous fault; forks link their children to it (anon_vma_fork) but add nothing to P\'s chain'
              : '6.18 anon_vma_fork(): a child VMA is linked to every anon_vma of its parent (anon_vma_clone) and to one of its own'
          }
        }
    return [
      {
        question: { id: 'q1', kind: 'mapping-set', prompt: `List every (pid, virtual address) that maps the page ${b.describe(p)} maps at ${hex(addr)}.`, points: 4, about: { pid: b.pid(p), addr: hex(addr) } },
        key: { answer: mappingSet(sim, pfn), rule: walkRule }
      },
      {
        question: { id: 'q2', kind: 'number', prompt: 'How many VMAs does the rmap walk of that page visit (mapping or not)?', points: 2, about: { pid: b.pid(p), addr: hex(addr) } },
        key: { answer: vmasVisited(sim, pfn), rule: old ? '2.6.11: the anon_vma list holds every VMA of the fork family that has the anon_vma, whether or not it maps this page' : '6.18: the walk visits the VMAs whose anon_vma_chain links them to the page\'s anon_vma and whose pgoff range holds the index (anon_vma_interval_tree_foreach)' }
      },
      q3
    ]
  }
}
