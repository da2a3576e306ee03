import t from 'tap'
import { ZERO_PFN } from '../../../src/sim/index.js'
import { A, B, MODELS_UNDER_TEST, PAGE, clean, mustPfn, pfnAt, pteAt, rejects, setup, vmaRanges, writeAll } from './fixtures/helpers.js'

for (const kernel of MODELS_UNDER_TEST) {
  t.test(`[${kernel}] madvise_dontneed_single_vma: anonymous pages are zapped and freed; the VMA stays; the next touch faults afresh`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 4 })
    writeAll(s, pid, A, 4)
    const p1 = mustPfn(s, pid, A + PAGE)
    const p3 = mustPfn(s, pid, A + 3 * PAGE)
    const tables = s.processInfo(pid).pageTablePages
    s.madvise({ pid, addr: A + PAGE, pages: 2, advice: 'dontneed' })
    t.same(vmaRanges(s, pid), [[A, A + 4 * PAGE, A / PAGE]], 'no VMA change')
    t.equal(pfnAt(s, pid, A + PAGE), null)
    t.equal(pteAt(s, pid, A + PAGE).kind, 'none')
    t.equal(s.frame(p1).kind, 'free')
    t.equal(mustPfn(s, pid, A + 3 * PAGE), p3)
    t.equal(s.process(pid).rss.anon, 2)
    t.equal(s.processInfo(pid).pageTablePages, tables, 'a small zap keeps the page tables')
    const r = s.read({ pid, addr: A + PAGE })
    t.equal(r.path, 'zero_page', 'a read now sees zeroes')
    t.equal(r.pfn, ZERO_PFN)
    t.equal(s.write({ pid, addr: A + 2 * PAGE }).path, 'anon_alloc')
    clean(t, s)
  })

  t.test(`[${kernel}] zap_present_folio_ptes: DONTNEED of a private file mapping frees the COW copies, keeps the cache pages`, async (t) => {
    const { s, pid } = setup(kernel)
    s.createFile({ name: 'f', pages: 2 })
    s.mmap({ pid, addr: A, pages: 2, file: 'f' })
    s.read({ pid, addr: A })
    s.write({ pid, addr: A + PAGE })
    const cache0 = mustPfn(s, pid, A)
    const cow = mustPfn(s, pid, A + PAGE)
    s.madvise({ pid, addr: A, pages: 2, advice: 'dontneed' })
    t.equal(s.frame(cow).kind, 'free', 'the private copy is gone')
    t.equal(s.frame(cache0).kind, 'file', 'the cache page stays')
    t.equal(s.frame(cache0).mapcount, 0)
    t.equal(s.fileInfo('f').cached, 2)
    const r = s.read({ pid, addr: A + PAGE })
    t.equal(r.path, 'file_read', 'the file contents are visible again')
    clean(t, s)
  })

  t.test(`[${kernel}] zap_present_folio_ptes: DONTNEED of a shared file mapping moves the PTE dirty bit to the page`, async (t) => {
    const { s, pid } = setup(kernel)
    s.createFile({ name: 'f', pages: 1 })
    s.mmap({ pid, addr: A, pages: 1, file: 'f', shared: true })
    s.read({ pid, addr: A })
    s.write({ pid, addr: A })
    const p = mustPfn(s, pid, A)
    s.madvise({ pid, addr: A, pages: 1, advice: 'dontneed' })
    t.equal(s.frame(p).mapcount, 0)
    t.ok(s.frame(p).flags.includes('dirty'), 'folio_mark_dirty')
    t.equal(s.read({ pid, addr: A }).pfn, p, 'same cache page comes back')
    clean(t, s)
  })

  t.test(`[${kernel}] DONTNEED of shared anonymous (shmem) memory keeps the data in the shmem object`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1, shared: true })
    s.write({ pid, addr: A })
    const p = mustPfn(s, pid, A)
    s.madvise({ pid, addr: A, pages: 1, advice: 'dontneed' })
    t.equal(s.frame(p).kind, 'shmem')
    t.equal(s.read({ pid, addr: A }).pfn, p)
    clean(t, s)
  })

  t.test(`[${kernel}] zap_nonpresent_ptes: DONTNEED of a swap entry frees the swap slot (free_swap_and_cache)`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.write({ pid, addr: A })
    const p = mustPfn(s, pid, A)
    if (!s.unmap({ pfn: p }).success) s.unmap({ pfn: p })
    t.equal(pteAt(s, pid, A).kind, 'swap')
    t.equal(s.stats().swapSlotsUsed, 1)
    s.madvise({ pid, addr: A, pages: 1, advice: 'dontneed' })
    t.equal(pteAt(s, pid, A).kind, 'none')
    t.equal(s.stats().swapSlotsUsed, 0)
    t.same(s.process(pid).rss, { anon: 0, file: 0, shmem: 0, swap: 0 })
    clean(t, s)
  })

  t.test(`[${kernel}] zap_pte_range: DONTNEED in the parent after fork leaves the child's copy; mapcount drops`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.write({ pid, addr: A })
    const p = mustPfn(s, pid, A)
    const child = s.fork({ pid }).pid
    s.madvise({ pid, addr: A, pages: 1, advice: 'dontneed' })
    t.equal(s.frame(p).mapcount, 1)
    t.same(s.rmap(p).mappings.map((m) => m.pid), [child])
    t.equal(s.write({ pid: child, addr: A }).path, 'cow_reuse')
    t.equal(s.read({ pid, addr: A }).path, 'zero_page')
    clean(t, s)
  })

  t.test(`[${kernel}] madvise: bad calls are typed errors that change nothing`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 2 })
    s.write({ pid, addr: A })
    const inv = { name: 'InvalidArgumentError', code: 'invalid_argument' as const }
    rejects(t, s, () => s.madvise({ pid, addr: A, pages: 3, advice: 'dontneed' }), { ...inv, errno: 'ENOMEM' }, 'range runs into a hole')
    rejects(t, s, () => s.madvise({ pid, addr: B, pages: 1, advice: 'dontneed' }), { ...inv, errno: 'ENOMEM' }, 'nothing mapped')
    rejects(t, s, () => s.madvise({ pid, addr: A + 1, pages: 1, advice: 'dontneed' }), { ...inv, errno: 'EINVAL' }, 'unaligned')
    rejects(t, s, () => s.madvise({ pid, addr: A, pages: 0, advice: 'dontneed' }), { ...inv, errno: 'EINVAL' }, 'length 0')
    rejects(t, s, () => s.madvise({ pid, addr: A, pages: 1, advice: 'willneed' as 'dontneed' }), { ...inv, errno: 'EINVAL' }, 'unsupported advice')
    rejects(t, s, () => s.madvise({ pid: pid + 1, addr: A, pages: 1, advice: 'dontneed' }), { name: 'NotFoundError', code: 'not_found' }, 'unknown pid')
    clean(t, s)
  })

  t.test(`[${kernel}] shmem_evict_inode: a shared anonymous object's pages are freed when its last mapping goes`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 2, shared: true })
    writeAll(s, pid, A, 2)
    const p = mustPfn(s, pid, A)
    s.munmap({ pid, addr: A, pages: 2 })
    t.equal(s.frame(p).kind, 'free', 'munmap of the only mapping drops the shmem file and its pages')
    t.equal(s.stats().framesByKind.shmem, undefined)
    clean(t, s)
  })

  t.test(`[${kernel}] shmem_evict_inode: after fork the shmem pages live until the last process mapping them exits`, async (t) => {
    const { s, pid: q } = setup(kernel)
    s.mmap({ pid: q, addr: A, pages: 1, shared: true })
    s.write({ pid: q, addr: A })
    const child = s.fork({ pid: q }).pid
    s.read({ pid: child, addr: A })
    s.exit({ pid: q })
    t.equal(s.stats().framesByKind.shmem, 1, 'the child still maps it')
    s.exit({ pid: child })
    t.equal(s.stats().framesInUse, 0, 'nothing leaked once every process is gone')
    clean(t, s)
  })
}
