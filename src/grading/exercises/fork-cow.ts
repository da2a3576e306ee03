import { PAGE_SIZE, hex, type FaultPath } from '../../sim/index.js'
import { ANON, FILE_AT, anonFamily } from './family.js'
import type { Topic } from './topic.js'

const WRITE_RULES: Partial<Record<FaultPath, { '2.6.11': string, 6.18: string }>> = {
  cow_copy: {
    '2.6.11': 'do_wp_page(): the page is shared (page_count > 1, can_share_swap_page says no), so it is copied',
    6.18: 'wp_page_copy(): the page is not PageAnonExclusive and others hold it (wp_can_reuse_anon_folio fails), so it is copied'
  },
  cow_reuse: {
    '2.6.11': 'do_wp_page(): page_count is 1 (can_share_swap_page), so the page is reused in place, made writable',
    6.18: 'do_wp_page(): the page is PageAnonExclusive, or wp_can_reuse_anon_folio() finds this the only reference: it is reused in place'
  },
  anon_alloc: { '2.6.11': 'do_anonymous_page(): nothing mapped there yet, a new zeroed page', 6.18: 'do_anonymous_page(): nothing mapped there yet, a new zeroed page' },
  zero_page_cow: { '2.6.11': 'do_wp_page() on the zero page: always a new page', 6.18: 'wp_page_copy() of the zero page: always a new page' },
  none: { '2.6.11': 'the PTE is already writable: the MMU completes the write, no fault', 6.18: 'the PTE is already writable: the MMU completes the write, no fault' },
  sigsegv: { '2.6.11': 'the VMA has no VM_WRITE (or no VMA): SIGSEGV', 6.18: 'the VMA has no VM_WRITE (or no VMA): SIGSEGV' },
  private_file_cow: { '2.6.11': 'a private file mapping: the first write copies the page-cache page', 6.18: 'a private file mapping: the first write copies the page-cache page (do_cow_fault / wp_page_copy)' }
}

/** Fork and COW: which PTEs fork copies, and what a write does afterwards (copy or reuse). */
export const forkCow: Topic = {
  title: (kernel) => `fork and copy-on-write (${kernel})`,
  generate (b, difficulty) {
    const pages = anonFamily(b, difficulty)
    // A private file mapping: read only, 6.18's fork does not copy its PTEs (no anon_vma); once P
    // wrote a page of it (a COW copy gives the VMA an anon_vma), every PTE of it is copied.
    b.file('lib', 4)
    b.op({ op: 'mmap', proc: 'P', addr: hex(FILE_AT), pages: 2, kind: 'file', file: 'lib' })
    b.op({ op: 'read', proc: 'P', addr: hex(FILE_AT) })
    if (b.rng.chance(0.5)) b.op({ op: 'read', proc: 'P', addr: hex(FILE_AT + PAGE_SIZE) })
    const wroteLib = b.rng.chance(0.4)
    if (wroteLib) b.op({ op: 'write', proc: 'P', addr: hex(FILE_AT + b.rng.int(0, 1) * PAGE_SIZE) })
    b.fork('P', 'K')
    const who = b.rng.pick(b.live())
    const page = b.rng.int(0, pages - 1)
    const addr = ANON + page * PAGE_SIZE
    const whatIf = b.fork2()
    const r = whatIf.write({ pid: b.pid(who), addr })
    const path = r.path as FaultPath
    const rules = WRITE_RULES[path]
    const old = b.kernel === '2.6.11'
    const copied = b.sim.ptes(b.pid('K'), FILE_AT, FILE_AT + 2 * PAGE_SIZE).entries.length
    // Which frame a process maps, against P's: shared since fork, its own, the zero page, nothing.
    const pPages = b.mappedIn('P', ANON, pages, 'anon')
    // Not K: forked last, it always shares P's pages.
    const other = b.rng.pick(b.live().filter((n) => n !== 'P' && n !== 'K'))
    const at = b.rng.pick(pPages.length > 0 ? pPages : [ANON])
    const mine = b.pfnAt(other, at)
    const theirs = b.pfnAt('P', at)
    const choice = mine === null ? 3 : b.sim.frame(mine).kind === 'zero' ? 2 : mine === theirs ? 0 : 1
    const copyFn = old ? 'copy_one_pte' : 'copy_present_ptes'
    const mapcount = mine === null ? 0 : b.sim.frame(mine).mapcount
    const why = [
      `fork shared the page (${copyFn} write-protects both PTEs) and neither process has written it since: one frame, mapped ${mapcount} times`,
      mapcount > 1
        ? `${other} maps a copy it shares with ${mapcount - 1} other process(es): someone wrote the page after a fork and got its own copy (COW, ${old ? 'do_wp_page' : 'wp_page_copy'}), and a later fork shared that copy`
        : `${other} maps its own copy: it (or P) wrote the page after they parted, and the writer got a copy (COW, ${old ? 'do_wp_page' : 'wp_page_copy'}), or the page was first written after the fork`,
      `${other} read the address when nothing was there for it (do_anonymous_page maps the zero page for a read) and has not written it since; P's page came from P's own write`,
      `${other} has no PTE there: it never touched the address since its fork copied nothing there, or it unmapped it`
    ][choice]
    return [
      {
        question: { id: 'q1', kind: 'fault-path', prompt: `After the setup, ${b.describe(who)} writes to ${hex(addr)}. Which fault path does the write take (none, anon_alloc, cow_copy, cow_reuse, zero_page_cow, private_file_cow, swap_in, sigsegv)?`, points: 3, about: { pid: b.pid(who), addr: hex(addr), op: { op: 'write', pid: b.pid(who), addr: hex(addr) } } },
        key: { answer: path, rule: rules?.[b.kernel] ?? `the write takes ${path}` }
      },
      {
        question: { id: 'q2', kind: 'number', prompt: `How many present PTEs does ${b.describe('K')} have in [${hex(FILE_AT)}, ${hex(FILE_AT + 2 * PAGE_SIZE)}) (P's private mapping of lib) right after the fork?`, points: 2, about: { pid: b.pid('K'), range: [hex(FILE_AT), hex(FILE_AT + 2 * PAGE_SIZE)] } },
        key: {
          answer: copied,
          rule: old
            ? '2.6.11 dup_mmap() calls copy_page_range() for every VMA: each present PTE of P\'s mapping is copied'
            : wroteLib
              ? '6.18 vma_needs_copy(): P wrote a page of the mapping, so the VMA has an anon_vma and copy_page_range() copies every present PTE of it'
              : '6.18 copy_page_range() skips a VMA without an anon_vma (vma_needs_copy): P only read lib, so the child faults the file pages in again when it needs them'
        }
      },
      {
        question: {
          id: 'q3',
          kind: 'choice',
          prompt: `After the setup, what does ${b.describe(other)} map at ${hex(at)}?`,
          choices: [`the same frame as P (pid ${b.pid('P')}) maps there`, 'a different frame from P\'s', 'the zero page', 'nothing'],
          points: 2,
          about: { pid: b.pid(other), addr: hex(at) }
        },
        key: { answer: choice, rule: why }
      }
    ]
  }
}
