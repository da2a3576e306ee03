import { PAGE_SIZE, hex } from '../../sim/index.js'
import { ANON, anonFamily } from './family.js'
import type { Topic } from './topic.js'

/** Swap: swap entries shared by the processes that mapped a page, the swap cache, swap-in. */
export const swap: Topic = {
  title: (kernel) => `Swap entries and the swap cache (${kernel})`,
  generate (b, difficulty) {
    const pages = anonFamily(b, difficulty)
    // A page that several processes map: fork shared it.
    const shared: Array<{ addr: number, pfn: number, mapcount: number }> = []
    for (let i = 0; i < pages; i++) {
      const pfn = b.pfnAt('P', ANON + i * PAGE_SIZE)
      if (pfn === null || b.sim.frame(pfn).kind !== 'anon') continue
      shared.push({ addr: ANON + i * PAGE_SIZE, pfn, mapcount: b.sim.frame(pfn).mapcount })
    }
    if (shared.every((s) => s.mapcount < 2)) {
      // Make one: P writes its first page (never munmapped or write-protected by anonFamily) and forks once more.
      const addr = ANON
      b.op({ op: 'write', proc: 'P', addr: hex(addr) })
      b.fork('P', 'S')
      shared.splice(0, shared.length, { addr, pfn: b.pfnAt('P', addr) as number, mapcount: 2 })
    }
    const pick = b.rng.pick(shared.filter((s) => s.mapcount >= 2))
    const mappers = b.sim.rmap(pick.pfn).mappings.map((m) => m.pid)
    b.op({ op: 'referenced', pfn: pick.pfn })
    b.op({ op: 'unmap', pfn: pick.pfn })
    // Some of the processes that mapped it touch it again (reads: do_swap_page), the others keep their swap entries.
    const readers = b.rng.shuffle(mappers).slice(0, b.rng.int(1, mappers.length - 1)).map((pid) => b.nameOf(pid))
    for (const r of readers) b.op({ op: 'read', proc: r, addr: hex(pick.addr) })
    const slotUsers = b.sim.processes().reduce((n, p) => n + b.sim.ptes(p.pid).entries.filter((e) => e.pte.kind === 'swap').length, 0)
    const frame = b.sim.frame(b.pfnAt(readers[0], pick.addr) as number)
    const old = b.kernel === '2.6.11'
    const where = `the page ${b.describe('P')} mapped at ${hex(pick.addr)} (its frame ${pick.pfn} is the one the setup reclaims with referenced and unmap)`
    return [
      {
        question: { id: 'q1', kind: 'number', prompt: `After the setup, how many PTEs (in all processes) hold swap entries? The setup swaps out ${where}.`, points: 2, about: {} },
        key: { answer: slotUsers, rule: `try_to_unmap() replaced every PTE mapping the page with its swap entry (swap_duplicate raises the slot's count for each); each swap-in (${readers.join(', ')}) replaced only its own PTE (do_swap_page)` }
      },
      {
        question: { id: 'q2', kind: 'number', prompt: `How many PTEs map the frame ${b.describe(readers[0])} now maps at ${hex(pick.addr)} (its mapcount)?`, points: 2, about: { pid: b.pid(readers[0]), addr: hex(pick.addr) } },
        key: { answer: frame.mapcount, rule: `the first swap-in read the page into the swap cache (${old ? 'read_swap_cache_async' : 'swapin_readahead: other PTEs still hold the slot, so not the synchronous path that skips the cache'}); each later one found it there (lookup_swap_cache) and mapped the same frame` }
      },
      {
        question: { id: 'q3', kind: 'number', prompt: 'And how many references does that frame hold (page_count)?', points: 2, about: { pid: b.pid(readers[0]), addr: hex(pick.addr) } },
        key: { answer: frame.refcount, rule: `one per mapping PTE plus the swap cache's own (add_to_swap_cache): the page stays in the swap cache while swap entries still hold its slot (${old ? '2.6.11 do_swap_page: remove_exclusive_swap_page only when the swap is full' : '6.18 should_try_to_free_swap: only for a write or a locked page, and only once no swap entry is left'})` }
      }
    ]
  }
}
