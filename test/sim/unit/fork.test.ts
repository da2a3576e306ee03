import t from 'tap'
import { ZERO_PFN } from '../../../src/sim/index.js'
import { A, B, C, MODELS_UNDER_TEST, PAGE, clean, mustPfn, pfnAt, pteAt, setup } from './fixtures/helpers.js'

for (const kernel of MODELS_UNDER_TEST) {
  t.test(`[${kernel}] copy_present_ptes: a private writable PTE is write-protected in the parent; the child's copy is old and keeps dirty`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 2 })
    s.write({ pid, addr: A })
    const pfn = mustPfn(s, pid, A)
    const child = s.fork({ pid, child: 'c' }).pid
    const pp = pteAt(s, pid, A)
    const cp = pteAt(s, child, A)
    t.equal(pp.writable, false, 'parent write-protected')
    t.equal(pp.accessed, true, 'parent keeps young')
    t.equal(pp.dirty, true, 'parent keeps dirty')
    t.equal(cp.pfn, pfn, 'the child maps the same frame')
    t.equal(cp.writable, false)
    t.equal(cp.accessed, false, 'pte_mkold for the child')
    t.equal(cp.dirty, true, 'private: dirty kept in the child')
    t.equal(s.frame(pfn).mapcount, 2, 'page_dup_rmap: mapcount + 1')
    t.equal(s.frame(pfn).refcount, 2, 'get_page: refcount + 1')
    t.same(s.process(child).rss, { anon: 1, file: 0, shmem: 0, swap: 0 })
    t.same(s.rmap(pfn).mappings.map((m) => m.pid), [pid, child])
    clean(t, s)
  })

  t.test(`[${kernel}] copy_present_ptes: a read-only private mapping's PTE is copied as is (nothing to protect)`, async (t) => {
    const { s, pid } = setup(kernel)
    s.createFile({ name: 'f', pages: 1 })
    s.mmap({ pid, addr: A, pages: 1, file: 'f', prot: 'r' })
    s.mmap({ pid, addr: B, pages: 1 })
    s.write({ pid, addr: B }) // so 6.18 has a reason to copy something
    s.read({ pid, addr: A })
    const child = s.fork({ pid }).pid
    t.equal(pteAt(s, pid, A).accessed, true)
    if (kernel === '2.6.11') {
      t.equal(pteAt(s, child, A).kind, 'present', '2.6.11 copies the file PTE')
      t.equal(pteAt(s, child, A).accessed, false)
    } else {
      t.equal(pteAt(s, child, A).kind, 'none', '6.18: no anon_vma, so no copy')
    }
    clean(t, s)
  })

  t.test(`[${kernel}] copy_nonpresent_pte: a swap entry is duplicated (swap count + 1), the child's rss counts it`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.write({ pid, addr: A })
    const pfn = mustPfn(s, pid, A)
    if (!s.unmap({ pfn }).success) s.unmap({ pfn })
    const slot = pteAt(s, pid, A).swapOffset as number
    t.equal(s.state.swap.count(slot), 1)
    const child = s.fork({ pid }).pid
    t.equal(pteAt(s, child, A).kind, 'swap')
    t.equal(pteAt(s, child, A).swapOffset, slot)
    t.equal(s.state.swap.count(slot), 2, 'swap_duplicate')
    t.equal(s.process(child).rss.swap, 1)
    const exclusive = kernel === '6.18' ? false : undefined // 2.6.11 swap entries have no exclusive bit
    t.equal(pteAt(s, pid, A).exclusive, exclusive, 'the parent entry is not exclusive any more')
    t.equal(pteAt(s, child, A).exclusive, exclusive)
    const r1 = s.read({ pid, addr: A })
    const r2 = s.read({ pid: child, addr: A })
    t.equal(r1.path, 'swap_in')
    t.equal(r2.path, 'swap_in')
    t.equal(r1.pfn, r2.pfn, 'the second swap-in finds the page in the swap cache')
    t.equal(s.frame(r1.pfn as number).mapcount, 2)
    clean(t, s)
  })

  t.test(`[${kernel}] copy_present_ptes: a PROT_NONE PTE is copied and counted`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.write({ pid, addr: A })
    s.mprotect({ pid, addr: A, pages: 1, prot: 'none' })
    const pfn = mustPfn(s, pid, A)
    const child = s.fork({ pid }).pid
    t.equal(pteAt(s, child, A).kind, 'protnone')
    t.equal(s.frame(pfn).mapcount, 2)
    clean(t, s)
  })

  t.test(`[${kernel}] copy_page_range: the child gets its own page tables covering the copied PTEs`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.mmap({ pid, addr: A + 0x40000000, pages: 1 })
    s.write({ pid, addr: A })
    s.write({ pid, addr: A + 0x40000000 })
    const child = s.fork({ pid }).pid
    t.equal(s.processInfo(child).pageTablePages, s.processInfo(pid).pageTablePages)
    const pl = s.translate(pid, A).levels.map((l) => l.tablePfn)
    const cl = s.translate(child, A).levels.map((l) => l.tablePfn)
    t.equal(pl.filter((p) => cl.includes(p)).length, 0, 'no table frame shared')
    clean(t, s)
  })
}

// ------------------------------------------------------------------ where the models differ

t.test('vma_needs_copy (6.18): fork copies no PTEs for VMAs without an anon_vma (shared file, shmem, zero-page-only, untouched)', async (t) => {
  const { s, pid } = setup('6.18')
  s.createFile({ name: 'f', pages: 4 })
  s.mmap({ pid, addr: A, pages: 2, file: 'f', shared: true })
  s.mmap({ pid, addr: B, pages: 1, shared: true })
  s.mmap({ pid, addr: C, pages: 2 })
  s.mmap({ pid, addr: C + 0x100000, pages: 2, file: 'f', offset: 2, prot: 'r' })
  s.write({ pid, addr: A })
  s.read({ pid, addr: A + PAGE })
  s.write({ pid, addr: B })
  s.read({ pid, addr: C })
  s.read({ pid, addr: C + 0x100000 })
  const filePfn = mustPfn(s, pid, A)
  const shm = mustPfn(s, pid, B)
  const child = s.fork({ pid }).pid
  for (const addr of [A, A + PAGE, B, C, C + 0x100000]) t.equal(pteAt(s, child, addr).kind, 'none', `no PTE at ${addr.toString(16)}`)
  t.equal(s.processInfo(child).vmas, 4, 'the VMAs are still copied')
  t.same(s.process(child).rss, { anon: 0, file: 0, shmem: 0, swap: 0 })
  t.equal(s.processInfo(child).pageTablePages, 1, 'not even page tables')
  t.equal(s.frame(filePfn).mapcount, 1)
  t.equal(s.frame(shm).mapcount, 1)
  // The child faults them back in.
  t.equal(s.read({ pid: child, addr: A }).pfn, filePfn)
  t.equal(s.read({ pid: child, addr: B }).pfn, shm, 'shmem: the same page')
  t.equal(s.read({ pid: child, addr: C }).pfn, ZERO_PFN)
  clean(t, s)
})

t.test('dup_mmap (2.6.11): copy_page_range runs for every VMA, including shared, shmem and zero-page-only ones', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.createFile({ name: 'f', pages: 2 })
  s.mmap({ pid, addr: A, pages: 2, file: 'f', shared: true })
  s.mmap({ pid, addr: B, pages: 1, shared: true })
  s.mmap({ pid, addr: C, pages: 2 })
  s.write({ pid, addr: A })
  s.write({ pid, addr: B })
  s.read({ pid, addr: C })
  const filePfn = mustPfn(s, pid, A)
  const shm = mustPfn(s, pid, B)
  const child = s.fork({ pid }).pid
  t.equal(pfnAt(s, child, A), filePfn)
  t.equal(pfnAt(s, child, B), shm)
  t.equal(pfnAt(s, child, C), ZERO_PFN, 'the zero page PTE is copied verbatim (PageReserved)')
  t.equal(s.frame(filePfn).mapcount, 2)
  t.equal(s.frame(filePfn).refcount, 3, 'cache + two PTEs')
  t.equal(s.frame(shm).mapcount, 2)
  t.equal(s.frame(ZERO_PFN).mapcount, 0, 'no rmap for the zero page')
  t.same(s.process(child).rss, { anon: 0, file: 1, shmem: 1, swap: 0 })
  t.same(s.rmap(filePfn).mappings.map((m) => m.pid), [pid, child])
  t.equal(s.write({ pid: child, addr: C }).path, 'zero_page_cow')
  clean(t, s)
})

t.test('copy_one_pte (2.6.11): a shared writable PTE stays writable in the parent; the child copy is clean and old', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.createFile({ name: 'f', pages: 1 })
  s.mmap({ pid, addr: A, pages: 1, file: 'f', shared: true })
  s.write({ pid, addr: A })
  const child = s.fork({ pid }).pid
  const pp = pteAt(s, pid, A)
  const cp = pteAt(s, child, A)
  t.equal(pp.writable, true, 'shared: not write-protected')
  t.equal(pp.dirty, true)
  t.equal(cp.writable, true)
  t.equal(cp.dirty, false, 'pte_mkclean for VM_SHARED')
  t.equal(cp.accessed, false, 'pte_mkold')
  t.equal(s.write({ pid: child, addr: A }).path, 'none', 'the child writes without a fault')
  clean(t, s)
})

t.test('vma_needs_copy (6.18): a private file VMA with an anon_vma copies all its PTEs, file pages included', async (t) => {
  const { s, pid } = setup('6.18')
  s.createFile({ name: 'f', pages: 2 })
  s.mmap({ pid, addr: A, pages: 2, file: 'f' })
  s.read({ pid, addr: A })
  s.write({ pid, addr: A + PAGE })
  const filePfn = mustPfn(s, pid, A)
  const cow = mustPfn(s, pid, A + PAGE)
  const child = s.fork({ pid }).pid
  t.equal(pfnAt(s, child, A), filePfn)
  t.equal(pfnAt(s, child, A + PAGE), cow)
  t.equal(s.frame(filePfn).mapcount, 2)
  t.equal(s.frame(cow).mapcount, 2)
  t.equal(pteAt(s, child, A + PAGE).dirty, true, 'a private child PTE keeps dirty')
  clean(t, s)
})

t.test('folio_try_dup_anon_rmap_pte (6.18): fork clears PageAnonExclusive', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  const pfn = mustPfn(s, pid, A)
  t.ok(s.frame(pfn).flags.includes('anonExclusive'))
  s.fork({ pid })
  t.notOk(s.frame(pfn).flags.includes('anonExclusive'))
  clean(t, s)
})

t.test('copy_nonpresent_pte (6.18): the parent\'s exclusive swap entry loses its exclusive bit', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  s.unmap({ pfn: mustPfn(s, pid, A) })
  t.equal(pteAt(s, pid, A).exclusive, true)
  s.fork({ pid })
  t.equal(pteAt(s, pid, A).exclusive, false)
  const r = s.read({ pid, addr: A })
  t.equal(r.pte.writable, false, 'not exclusive and the swap cache holds a reference: read-only')
  clean(t, s)
})
