/**
 * mlock / munlock: mm/mlock.c. mlock_fixup() makes the range VM_LOCKED (split off; 6.18 merges it back
 * with like neighbours through vma_modify_flags, 2.6.11 only splits), and __mm_populate() faults it in,
 * for writing where populate_vma_page_range() says (6.18: private writable; 2.6.11
 * make_pages_present: any VM_WRITE). 6.18 keeps PG_mlocked on exactly the pages a VM_LOCKED VMA maps;
 * reclaim (try_to_unmap_one) leaves them; MADV_DONTNEED refuses a locked VMA; fork does not lock the
 * child's VMAs (dup_mmap: VM_LOCKED cleared).
 */
import t from 'tap'
import { ZERO_PFN } from '../../../src/sim/index.js'
import { A, B, MODELS_UNDER_TEST, PAGE, clean, mustPfn, pfnAt, rejects, setup, vmaRanges, writeAll } from './fixtures/helpers.js'

const inv = { name: 'InvalidArgumentError', code: 'invalid_argument' as const }

for (const kernel of MODELS_UNDER_TEST) {
  const modern = kernel === '6.18'

  t.test(`[${kernel}] mlock splits off the range and faults it in, breaking COW for a private writable mapping`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 5 })
    writeAll(s, pid, A, 2)
    s.read({ pid, addr: A + 2 * PAGE })
    const child = s.fork({ pid }).pid
    const shared = mustPfn(s, pid, A)
    s.mlock({ pid: child, addr: A, pages: 4 })
    t.same(vmaRanges(s, child).map((r) => r.slice(0, 2)), [[A, A + 4 * PAGE], [A + 4 * PAGE, A + 5 * PAGE]])
    t.ok(s.processInfo(child).vmaList[0].flags.includes('locked'))
    for (let i = 0; i < 4; i++) {
      const pfn = mustPfn(s, child, A + i * PAGE)
      t.equal(s.frame(pfn).kind, 'anon', `page ${i}: an anonymous page of the child's own`)
      t.equal(s.frame(pfn).mapcount, 1)
      t.equal(s.frame(pfn).flags.includes('mlocked'), modern, `page ${i}: mlocked ${modern ? '(PG_mlocked)' : '(2.6.11 has no PG_mlocked)'}`)
    }
    t.not(mustPfn(s, child, A), shared, 'the shared page was copied')
    t.equal(s.frame(shared).mapcount, 1, 'the parent\'s page is its own again')
    t.equal(s.frame(shared).flags.includes('mlocked'), false, 'the parent\'s pages are not mlocked')
    t.equal(pfnAt(s, child, A + 4 * PAGE), null, 'outside the range: untouched')
    clean(t, s)
  })

  t.test(`[${kernel}] mlock of a read-only private mapping maps the zero page (6.18) or nothing (2.6.11: untouched_anonymous_page); PROT_NONE is not faulted in`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 2, prot: 'r' })
    s.mmap({ pid, addr: B, pages: 1, prot: 'none' })
    s.mlock({ pid, addr: A, pages: 2 })
    s.mlock({ pid, addr: B, pages: 1 })
    t.equal(pfnAt(s, pid, A), kernel === '6.18' ? ZERO_PFN : null)
    t.equal(pfnAt(s, pid, B), null)
    t.equal(s.frame(ZERO_PFN).flags.includes('mlocked'), false, 'the zero page is never mlocked')
    clean(t, s)
  })

  t.test(`[${kernel}] a locked VMA: MADV_DONTNEED is EINVAL, try_to_unmap fails, munlock undoes it`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 2 })
    s.mlock({ pid, addr: A, pages: 2 })
    const pfn = mustPfn(s, pid, A)
    rejects(t, s, () => s.madvise({ pid, addr: A, pages: 1, advice: 'dontneed' }), { ...inv, errno: 'EINVAL' }, 'dontneed of an mlocked VMA')
    const u = s.unmap({ pfn })
    t.equal(u.success, false, 'reclaim leaves an mlocked page')
    t.match(u.reason ?? '', /mlocked VMA/)
    t.equal(pfnAt(s, pid, A), pfn, 'still mapped')
    s.munlock({ pid, addr: A, pages: 2 })
    t.equal(s.processInfo(pid).vmaList[0].flags.includes('locked'), false)
    t.equal(s.frame(pfn).flags.includes('mlocked'), false, 'munlocked')
    t.same(vmaRanges(s, pid).map((r) => r.slice(0, 2)), [[A, A + 2 * PAGE]])
    let r = s.unmap({ pfn })
    if (kernel === '2.6.11') {
      t.equal(r.success, false, '2.6.11 try_to_unmap_one refuses the young PTE first (and clears it)')
      r = s.unmap({ pfn })
    }
    t.equal(r.success, true, 'reclaim can take it now')
    clean(t, s)
  })

  t.test(`[${kernel}] fork: the child's VMAs are not locked, and its copies of the pages are not what keeps them mlocked`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.mlock({ pid, addr: A, pages: 1 })
    const pfn = mustPfn(s, pid, A)
    const child = s.fork({ pid }).pid
    t.equal(s.processInfo(child).vmaList[0].flags.includes('locked'), false, 'dup_mmap clears VM_LOCKED')
    t.equal(pfnAt(s, child, A), pfn)
    s.exit({ pid })
    t.equal(s.frame(pfn).flags.includes('mlocked'), false, 'the last locked mapping went with the parent')
    clean(t, s)
  })
}

t.test('[6.18] mlock merges the locked range back with a locked neighbour; 2.6.11 does not', async (t) => {
  for (const kernel of MODELS_UNDER_TEST) {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 4 })
    s.mlock({ pid, addr: A, pages: 2 })
    s.mlock({ pid, addr: A + 2 * PAGE, pages: 2 })
    t.equal(vmaRanges(s, pid).length, kernel === '6.18' ? 1 : 2, `${kernel}: ${kernel === '6.18' ? 'vma_modify_flags merges' : 'mlock_fixup only splits'}`)
    clean(t, s)
  }
})

t.test('[6.18] a fault and a COW copy in a locked VMA: the new page is mlocked, the old one not', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  const child = s.fork({ pid }).pid
  s.mlock({ pid: child, addr: A, pages: 1 })
  const childPage = mustPfn(s, child, A)
  s.mlock({ pid, addr: A, pages: 1 })
  const parentPage = mustPfn(s, pid, A)
  t.not(parentPage, childPage)
  t.ok(s.frame(parentPage).flags.includes('mlocked'))
  s.munmap({ pid, addr: A, pages: 1 })
  t.equal(s.frame(childPage).flags.includes('mlocked'), true, 'the child\'s locked mapping keeps its page mlocked')
  clean(t, s)
})

t.test('[6.18] an mlocked mapping that grows through mremap has its new part faulted in', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 1 })
  s.mlock({ pid, addr: A, pages: 1 })
  s.mremap({ pid, addr: A, pages: 1, newPages: 3 })
  for (let i = 0; i < 3; i++) t.ok(s.frame(mustPfn(s, pid, A + i * PAGE)).flags.includes('mlocked'), `page ${i}`)
  clean(t, s)
})

t.test('[6.18] a write that reuses a page in place (wp_page_reuse) adds no rmap, so it does not mlock it (l-m9)', async (t) => {
  // mlock_vma_folio() runs at the end of __folio_add_anon_rmap(); a swap-in folio made by mlock's
  // populate is not mlocked (folio_add_lru, not _vma); the reuse leaves it so.
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  s.pageout({ pid, addr: A, pages: 1 })
  s.mlock({ pid, addr: A, pages: 1 })
  const pfn = mustPfn(s, pid, A)
  t.notOk(s.frame(pfn).flags.includes('mlocked'), 'the swap-in made by populate is not mlocked')
  const child = s.fork({ pid }).pid
  s.write({ pid: child, addr: A })
  t.equal(s.write({ pid, addr: A }).path, 'cow_reuse')
  t.notOk(s.frame(pfn).flags.includes('mlocked'), 'reuse: still not mlocked')
  clean(t, s)
})
