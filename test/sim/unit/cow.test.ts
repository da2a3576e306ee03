import t from 'tap'
import { A, MODELS_UNDER_TEST, PAGE, clean, mustPfn, pteAt, setup } from './fixtures/helpers.js'

/** When a write fault on a write-protected anonymous page reuses it and when it copies. */
for (const kernel of MODELS_UNDER_TEST) {
  t.test(`[${kernel}] do_wp_page: the first writer of a page shared by two processes copies, the last one reuses`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.write({ pid, addr: A })
    const orig = mustPfn(s, pid, A)
    const child = s.fork({ pid }).pid
    const w1 = s.write({ pid, addr: A })
    t.equal(w1.path, 'cow_copy', 'mapcount/refcount 2: copy')
    t.equal(w1.copiedFrom, orig)
    const w2 = s.write({ pid: child, addr: A })
    t.equal(w2.path, 'cow_reuse', 'now the child is the only holder')
    t.equal(w2.pfn, orig)
    t.equal(s.frame(orig).mapcount, 1)
    clean(t, s)
  })

  t.test(`[${kernel}] do_wp_page: three sharers: two copies, the last reuses`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.write({ pid, addr: A })
    const orig = mustPfn(s, pid, A)
    const c1 = s.fork({ pid }).pid
    const c2 = s.fork({ pid }).pid
    t.equal(s.frame(orig).mapcount, 3)
    t.equal(s.write({ pid: c1, addr: A }).path, 'cow_copy')
    t.equal(s.write({ pid, addr: A }).path, 'cow_copy')
    t.equal(s.write({ pid: c2, addr: A }).path, 'cow_reuse')
    t.equal(mustPfn(s, c2, A), orig)
    clean(t, s)
  })

  t.test(`[${kernel}] do_wp_page: after the other sharer exits, the survivor reuses the page`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.write({ pid, addr: A })
    const child = s.fork({ pid }).pid
    s.exit({ pid: child })
    const w = s.write({ pid, addr: A })
    t.equal(w.path, 'cow_reuse')
    clean(t, s)
  })

  t.test(`[${kernel}] do_wp_page: a page-cache page in a private mapping is always copied, never reused`, async (t) => {
    const { s, pid } = setup(kernel)
    s.createFile({ name: 'f', pages: 1 })
    s.mmap({ pid, addr: A, pages: 1, file: 'f' })
    const r = s.read({ pid, addr: A })
    const w = s.write({ pid, addr: A })
    t.equal(w.path, 'private_file_cow')
    t.not(w.pfn, r.pfn)
    clean(t, s)
  })

  t.test(`[${kernel}] do_wp_page: a swapped-in page whose swap slot nobody else uses is reused (swap cache dropped or exclusive)`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.write({ pid, addr: A })
    const child = s.fork({ pid }).pid
    const p = mustPfn(s, pid, A)
    while (!s.unmap({ pfn: p }).success) { /* 2.6.11: until no young PTE is left */ }
    t.equal(pteAt(s, pid, A).kind, 'swap')
    t.equal(pteAt(s, child, A).kind, 'swap')
    const r = s.read({ pid, addr: A })
    t.equal(r.pte.writable, false, 'shared swap entry: read-only')
    s.exit({ pid: child })
    const w = s.write({ pid, addr: A })
    t.equal(w.path, 'cow_reuse', 'the swap cache is the only other holder, its slot unused')
    t.equal(w.pfn, r.pfn)
    if (kernel === '6.18') {
      t.equal(s.frame(r.pfn as number).swapSlot, null, 'folio_free_swap dropped the swap cache')
      t.equal(s.frame(r.pfn as number).refcount, 1)
      t.equal(s.stats().swapSlotsUsed, 0)
    }
    clean(t, s)
  })

  t.test(`[${kernel}] do_wp_page: a swapped-in page whose slot another process still references is copied`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.write({ pid, addr: A })
    const child = s.fork({ pid }).pid
    const p = mustPfn(s, pid, A)
    while (!s.unmap({ pfn: p }).success) { /* retry */ }
    const r = s.read({ pid, addr: A })
    const w = s.write({ pid, addr: A })
    t.equal(w.path, 'cow_copy', 'the child\'s swap PTE may still read that page')
    t.equal(w.copiedFrom, r.pfn)
    t.equal(pteAt(s, child, A).kind, 'swap')
    const c = s.read({ pid: child, addr: A })
    t.equal(c.pfn, r.pfn, 'the child finds the original in the swap cache')
    clean(t, s)
  })
}

t.test('wp_can_reuse_anon_folio (6.18): reuse moves page->mapping to the faulting VMA\'s own anon_vma (folio_move_anon_rmap)', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  const orig = mustPfn(s, pid, A)
  const rootAv = s.frame(orig).mapping.id
  const child = s.fork({ pid }).pid
  const childAv = s.processInfo(child).vmaList[0].anonVma
  t.not(childAv, rootAv)
  s.write({ pid, addr: A }) // parent copies
  const w = s.write({ pid: child, addr: A })
  t.equal(w.path, 'cow_reuse')
  t.equal(s.frame(orig).mapping.id, childAv, 'the page now belongs to the child\'s anon_vma')
  t.ok(s.frame(orig).flags.includes('anonExclusive'), 'SetPageAnonExclusive on reuse')
  const tr = s.rmap(orig, true).trace ?? []
  t.same(tr.filter((x) => x.step === 'vma').map((x) => x.step === 'vma' ? x.pid : 0), [child], 'a walk of it visits only the child')
  clean(t, s)
})

t.test('do_wp_page (6.18): a PageAnonExclusive page is reused without a copy', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  const pfn = mustPfn(s, pid, A)
  // Swap out and back in with a read: the slot had one user, so the page is read straight in, outside
  // the swap cache (SWP_SYNCHRONOUS_IO, as on the zram of the Linux truths: scenario 15), exclusive,
  // mapped writable.
  s.unmap({ pfn })
  const r = s.read({ pid, addr: A })
  t.equal(s.frame(r.pfn as number).refcount, 1)
  t.ok(s.frame(r.pfn as number).flags.includes('anonExclusive'))
  t.equal(r.pte.writable, true)
  t.equal(s.write({ pid, addr: A }).path, 'none')
  clean(t, s)
})

t.test('can_share_swap_page (2.6.11): reuse only when page_count is 1 (not in the swap cache)', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.mmap({ pid, addr: A, pages: 2 })
  s.write({ pid, addr: A })
  s.write({ pid, addr: A + PAGE })
  const p = mustPfn(s, pid, A)
  const child = s.fork({ pid }).pid
  t.equal(s.frame(p).refcount, 2)
  t.equal(s.frame(p)._count, 1, '_count = page_count - 1')
  t.equal(s.write({ pid: child, addr: A }).path, 'cow_copy', 'page_count 2, not in swap cache: copy')
  t.equal(s.frame(p).refcount, 1)
  t.equal(s.write({ pid, addr: A }).path, 'cow_reuse', 'page_count 1: reuse')
  t.equal(s.frame(p).mapping.id, s.processInfo(pid).vmaList[0].anonVma, 'mapping is the family anon_vma, unchanged')
  clean(t, s)
})

t.test('page_add_anon_rmap (2.6.11): a reused or copied page keeps pointing at the one family anon_vma', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  const p = mustPfn(s, pid, A)
  const av = s.frame(p).mapping.id
  const child = s.fork({ pid }).pid
  const w = s.write({ pid: child, addr: A })
  t.equal(s.frame(w.pfn as number).mapping.id, av, 'the child\'s copy is in the family anon_vma too')
  t.equal(s.processInfo(child).vmaList[0].anonVma, av)
  clean(t, s)
})
