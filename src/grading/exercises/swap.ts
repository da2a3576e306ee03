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
    const first = b.nameOf(b.rng.pick(mappers))
    b.op({ op: 'read', proc: first, addr: hex(pick.addr) })
    const slotUsers = b.sim.processes().reduce((n, p) => n + b.sim.ptes(p.pid).entries.filter((e) => e.pte.kind === 'swap').length, 0)
    const frame = b.sim.frame(b.pfnAt(first, pick.addr) as number)
    const inCache = frame.swapSlot !== null ? 1 : 0
    const old = b.kernel === '2.6.11'
    const others = mappers.filter((pid) => pid !== b.pid(first))
    const second = b.nameOf(others[0])
    const whatIf = b.fork2()
    const again = whatIf.read({ pid: b.pid(second), addr: pick.addr })
    const same = again.pfn === frame.pfn ? 1 : 0
    return [
      {
        question: { id: 'q1', kind: 'number', prompt: 'After the setup, how many PTEs (in all processes) hold swap entries?', points: 2, about: {} },
        key: { answer: slotUsers, rule: 'try_to_unmap() replaced every PTE mapping the page with its swap entry (swap_duplicate raises the slot\'s count for each); the swap-in by ' + first + ' replaced only its own PTE (do_swap_page)' }
      },
      {
        question: { id: 'q2', kind: 'number', prompt: `Is the frame ${b.describe(first)} now maps at ${hex(pick.addr)} in the swap cache (1 or 0)?`, points: 2, about: { pid: b.pid(first), addr: hex(pick.addr) } },
        key: { answer: inCache, rule: old ? '2.6.11 do_swap_page() reads through the swap cache (read_swap_cache_async) and leaves the page there while other PTEs hold the slot' : '6.18 do_swap_page(): other PTEs still hold the slot (swap count > 1), so the page goes through the swap cache and stays there for them' }
      },
      {
        question: { id: 'q3', kind: 'number', prompt: `If ${b.describe(second)} then reads ${hex(pick.addr)}, does it map the same frame as ${first} (1 or 0)?`, points: 2, about: { pid: b.pid(first), addr: hex(pick.addr), op: { op: 'read', pid: b.pid(second), addr: hex(pick.addr) } } },
        key: { answer: same, rule: 'do_swap_page() looks the slot up in the swap cache first (lookup_swap_cache): the page read in for ' + first + ' is found and shared' }
      }
    ]
  }
}
