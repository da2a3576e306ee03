import t from 'tap'
import { Simulator, ZERO_PFN } from '../../../src/sim/index.js'
import { evictFile } from '../../../src/sim/rmap.js'
import { A, B, MODELS_UNDER_TEST, PAGE, clean, stateOf, mustPfn, pfnAt, pteAt, rejects, setup, writeAll } from './fixtures/helpers.js'

for (const kernel of MODELS_UNDER_TEST) {
  t.test(`[${kernel}] page_referenced: counts the young PTEs of every mapping and clears them`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.write({ pid, addr: A })
    const p = mustPfn(s, pid, A)
    const c1 = s.fork({ pid }).pid
    const c2 = s.fork({ pid }).pid
    s.referenced({ pfn: p }) // start from a clean slate (PTE young bits and, in 2.6.11, PG_referenced)
    t.same(s.referenced({ pfn: p }), { referenced: 0, ptes: 3 }, 'nothing young now')
    s.read({ pid, addr: A })
    s.read({ pid: c2, addr: A })
    t.equal(pteAt(s, c1, A).accessed, false)
    t.same(s.referenced({ pfn: p }), { referenced: 2, ptes: 3 }, 'two of the three PTEs were young')
    for (const q of [pid, c1, c2]) t.equal(pteAt(s, q, A).accessed, false, `pid ${q} young bit cleared`)
    t.same(s.referenced({ pfn: p }), { referenced: 0, ptes: 3 })
    clean(t, s)
  })

  t.test(`[${kernel}] page_referenced: the zero page, page tables and free frames are refused (UnsupportedError)`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.read({ pid, addr: A })
    const table = s.translate(pid, A).levels[3].tablePfn
    const uns = { name: 'UnsupportedError', code: 'unsupported' as const, errno: 'EINVAL' }
    const ops = [['referenced', (p: number) => s.referenced({ pfn: p })], ['unmap', (p: number) => s.unmap({ pfn: p })], ['mkclean', (p: number) => s.mkclean({ pfn: p })], ['migrate', (p: number) => s.migrate({ pfn: p })]] as const
    // 2.6.11 refuses page_mkclean and migration for any frame (unsupported), and nothing else differs here.
    for (const [what, fn] of ops.filter(([w]) => kernel === '6.18' || (w !== 'mkclean' && w !== 'migrate'))) {
      rejects(t, s, () => fn(ZERO_PFN), uns, `${what} of the zero page`)
      rejects(t, s, () => fn(table), uns, `${what} of a page-table page`)
      rejects(t, s, () => fn(1 << 30), { name: 'NotFoundError', code: 'not_found', errno: 'ENOENT' }, `${what} of an unknown PFN`)
    }
    s.write({ pid, addr: A })
    const p = mustPfn(s, pid, A)
    s.munmap({ pid, addr: A, pages: 1 })
    rejects(t, s, () => s.unmap({ pfn: p }), uns, 'unmap of a free frame')
    clean(t, s)
  })

  t.test(`[${kernel}] try_to_unmap (anon): every mapping PTE becomes a swap entry, the frame is freed, the dirty bit recorded`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 2 })
    writeAll(s, pid, A, 2)
    const p = mustPfn(s, pid, A + PAGE)
    const child = s.fork({ pid }).pid
    s.referenced({ pfn: p })
    const u = s.unmap({ pfn: p })
    t.equal(u.success, true)
    t.equal(u.unmapped, 2)
    t.equal(u.freed, true)
    t.equal(u.dirty, true, 'the dirty PTE bit moved to the page')
    t.type(u.swapSlot, 'number')
    for (const q of [pid, child]) {
      const e = pteAt(s, q, A + PAGE)
      t.equal(e.kind, 'swap')
      t.equal(e.swapOffset, u.swapSlot)
      t.equal(s.process(q).rss.swap, 1)
      t.equal(s.process(q).rss.anon, 1)
    }
    t.equal(s.state.swap.count(u.swapSlot as number), 2, 'one swap reference per PTE')
    t.equal(s.frame(p).kind, 'free')
    t.equal(s.stats().swapSlotsUsed, 1)
    clean(t, s)
  })

  t.test(`[${kernel}] do_swap_page after try_to_unmap: both processes get the data back in one new frame with the same index`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.write({ pid, addr: A })
    const p = mustPfn(s, pid, A)
    const idx = s.frame(p).index
    const child = s.fork({ pid }).pid
    s.referenced({ pfn: p })
    t.ok(s.unmap({ pfn: p }).success)
    const r1 = s.read({ pid: child, addr: A })
    const r2 = s.read({ pid, addr: A })
    t.equal(r1.pfn, r2.pfn)
    t.not(r1.pfn, p)
    const f = s.frame(r1.pfn as number)
    t.equal(f.index, idx)
    t.equal(f.mapcount, 2)
    t.equal(f.kind, 'anon')
    t.equal(f.refcount, 3, 'two PTEs and the swap cache')
    t.not(f.swapSlot, null)
    t.equal(s.stats().swapSlotsUsed, 1, 'the slot is held by the swap cache')
    clean(t, s)
  })

  t.test(`[${kernel}] try_to_unmap (file): the PTEs are dropped, the page stays in the page cache`, async (t) => {
    const { s, pid } = setup(kernel)
    s.createFile({ name: 'f', pages: 2 })
    s.mmap({ pid, addr: A, pages: 2, file: 'f', shared: true })
    const q = s.spawn({ name: 'q' }).pid
    s.mmap({ pid: q, addr: B, pages: 2, file: 'f' })
    s.write({ pid, addr: A })
    s.read({ pid: q, addr: B })
    const p = mustPfn(s, pid, A)
    s.referenced({ pfn: p })
    const u = s.unmap({ pfn: p })
    t.equal(u.success, true)
    t.equal(u.unmapped, 2)
    t.equal(u.freed, false)
    t.equal(u.swapSlot, undefined)
    t.equal(u.dirty, true)
    t.equal(pteAt(s, pid, A).kind, 'none')
    t.equal(pteAt(s, q, B).kind, 'none')
    const f = s.frame(p)
    t.equal(f.kind, 'file')
    t.equal(f.mapcount, 0)
    t.equal(f.refcount, 1, 'only the page cache')
    t.ok(f.flags.includes('dirty'))
    t.equal(s.process(pid).rss.file, 0)
    t.equal(s.read({ pid: q, addr: B }).pfn, p, 'a later fault finds it in the cache')
    t.equal(s.stats().swapSlotsUsed, 0)
    clean(t, s)
  })

  t.test(`[${kernel}] try_to_unmap (shmem): the PTE goes, the shmem page stays`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1, shared: true })
    s.write({ pid, addr: A })
    const p = mustPfn(s, pid, A)
    s.referenced({ pfn: p })
    const u = s.unmap({ pfn: p })
    t.equal(u.success, true)
    t.equal(s.frame(p).kind, 'shmem')
    t.equal(s.process(pid).rss.shmem, 0)
    t.equal(s.read({ pid, addr: A }).pfn, p)
    clean(t, s)
  })

  t.test(`[${kernel}] try_to_unmap: an unmapped anonymous page in the swap cache is written out and freed`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.write({ pid, addr: A })
    const child = s.fork({ pid }).pid
    const p = mustPfn(s, pid, A)
    s.referenced({ pfn: p })
    s.unmap({ pfn: p })
    const r = s.read({ pid, addr: A })
    s.referenced({ pfn: r.pfn as number })
    const u = s.unmap({ pfn: r.pfn as number })
    t.equal(u.success, true)
    t.equal(u.swapSlot, pteAt(s, child, A).swapOffset, 'the same slot is reused (already in the swap cache)')
    t.equal(s.state.swap.count(u.swapSlot as number), 2)
    clean(t, s)
  })

  t.test(`[${kernel}] try_to_unmap: a full swap device is a LimitError and nothing changes`, async (t) => {
    const s = new Simulator({ version: kernel, limits: { maxSwapSlots: 1 } })
    const pid = s.spawn({}).pid
    s.mmap({ pid, addr: A, pages: 2 })
    writeAll(s, pid, A, 2)
    s.referenced({ pfn: mustPfn(s, pid, A) })
    s.referenced({ pfn: mustPfn(s, pid, A + PAGE) })
    t.ok(s.unmap({ pfn: mustPfn(s, pid, A) }).success)
    rejects(t, s, () => s.unmap({ pfn: mustPfn(s, pid, A + PAGE) }), { name: 'LimitError', code: 'limit', errno: 'ENOMEM' }, 'no free swap slot')
    clean(t, s)
  })

  // page_mkclean came in 2.6.19, page migration in 2.6.16: 2.6.11 refuses them (linux-2611.test.ts).
  if (kernel === '6.18') {
    t.test(`[${kernel}] page_mkclean: every VM_SHARED PTE of a dirty file page becomes clean and read-only; the next write faults`, async (t) => {
      const { s, pid } = setup(kernel)
      s.createFile({ name: 'f', pages: 1 })
      s.mmap({ pid, addr: A, pages: 1, file: 'f', shared: true })
      const q = s.spawn({ name: 'q' }).pid
      s.mmap({ pid: q, addr: B, pages: 1, file: 'f', shared: true })
      s.mmap({ pid: q, addr: B + PAGE, pages: 1, file: 'f' })
      s.write({ pid, addr: A })
      s.write({ pid: q, addr: B })
      s.read({ pid: q, addr: B + PAGE })
      const p = mustPfn(s, pid, A)
      const privBefore = pteAt(s, q, B + PAGE)
      const m = s.mkclean({ pfn: p })
      t.same(m, { cleaned: 2, wasDirty: true })
      for (const [who, addr] of [[pid, A], [q, B]] as const) {
        t.equal(pteAt(s, who, addr).dirty, false)
        t.equal(pteAt(s, who, addr).writable, false)
      }
      t.same(pteAt(s, q, B + PAGE), privBefore, 'the private mapping\'s PTE is not touched')
      t.notOk(s.frame(p).flags.includes('dirty'), 'written back: clean')
      t.equal(s.frame(p).mapcount, 3, 'still mapped')
      const w = s.write({ pid, addr: A })
      t.equal(w.path, 'shared_write_notify', 'the write faults and re-dirties')
      t.ok(s.frame(p).flags.includes('dirty'))
      t.same(s.mkclean({ pfn: p }), { cleaned: 1, wasDirty: true })
      t.same(s.mkclean({ pfn: p }), { cleaned: 0, wasDirty: false }, 'nothing left to clean')
      clean(t, s)
    })
  }

  // page_mkclean came in 2.6.19, page migration in 2.6.16: 2.6.11 refuses them (linux-2611.test.ts).
  if (kernel === '6.18') {
    t.test(`[${kernel}] page_mkclean: anonymous pages are left alone`, async (t) => {
      const { s, pid } = setup(kernel)
      s.mmap({ pid, addr: A, pages: 1 })
      s.write({ pid, addr: A })
      const before = stateOf(s)
      t.same(s.mkclean({ pfn: mustPfn(s, pid, A) }), { cleaned: 0, wasDirty: false })
      t.equal(stateOf(s), before)
    })
  }

  // page_mkclean came in 2.6.19, page migration in 2.6.16: 2.6.11 refuses them (linux-2611.test.ts).
  if (kernel === '6.18') {
    t.test(`[${kernel}] migrate_pages: every mapping moves to a new PFN; mapcount, refcount, flags, mapping, index and PTE bits kept`, async (t) => {
      const { s, pid } = setup(kernel)
      s.mmap({ pid, addr: A, pages: 1 })
      s.write({ pid, addr: A })
      const p = mustPfn(s, pid, A)
      const child = s.fork({ pid }).pid
      const before = s.frame(p)
      const ptes = [pteAt(s, pid, A), pteAt(s, child, A)]
      const m = s.migrate({ pfn: p })
      t.equal(m.remapped, 2)
      t.not(m.newPfn, p)
      const after = s.frame(m.newPfn)
      for (const k of ['kind', 'flags', 'refcount', '_count', 'mapcount', '_mapcount', 'mapping', 'index'] as const) t.same(after[k], before[k], k)
      t.equal(s.frame(p).kind, 'free', 'the old frame is freed')
      t.equal(pfnAt(s, pid, A), m.newPfn)
      t.equal(pfnAt(s, child, A), m.newPfn)
      const strip = (x: ReturnType<typeof pteAt>): unknown => ({ ...x, raw: undefined, pfn: undefined })
      t.same([pteAt(s, pid, A), pteAt(s, child, A)].map(strip), ptes.map(strip), 'writable/young/dirty as before')
      t.same(s.rmap(m.newPfn).mappings.map((x) => x.pid), [pid, child])
      t.equal(s.write({ pid: child, addr: A }).path, 'cow_copy', 'still COW-shared')
      clean(t, s)
    })
  }

  // page_mkclean came in 2.6.19, page migration in 2.6.16: 2.6.11 refuses them (linux-2611.test.ts).
  if (kernel === '6.18') {
    t.test(`[${kernel}] migrate_pages: a page-cache page: the cache slot points at the new frame`, async (t) => {
      const { s, pid } = setup(kernel)
      s.createFile({ name: 'f', pages: 2 })
      s.mmap({ pid, addr: A, pages: 2, file: 'f', shared: true })
      s.write({ pid, addr: A + PAGE })
      const p = mustPfn(s, pid, A + PAGE)
      const m = s.migrate({ pfn: p })
      // (2.6.11's shared write fault dirties only the PTE: do_no_page.)
      t.same(s.fileInfo('f').cache.map((c) => [c.index, c.pfn, c.mapcount, c.dirty]), [[1, m.newPfn, 1, kernel === '6.18']])
      t.equal(pteAt(s, pid, A + PAGE).writable, true)
      t.equal(pteAt(s, pid, A + PAGE).dirty, true)
      // An unmapped cache page migrates too (nothing to remap).
      s.munmap({ pid, addr: A, pages: 2 })
      const m2 = s.migrate({ pfn: m.newPfn })
      t.equal(m2.remapped, 0)
      t.same(s.fileInfo('f').cache.map((c) => c.pfn), [m2.newPfn])
      clean(t, s)
    })
  }

  // page_mkclean came in 2.6.19, page migration in 2.6.16: 2.6.11 refuses them (linux-2611.test.ts).
  if (kernel === '6.18') {
    t.test(`[${kernel}] migrate_pages: a swap-cache page keeps its slot at the new frame`, async (t) => {
      const { s, pid } = setup(kernel)
      s.mmap({ pid, addr: A, pages: 1 })
      s.write({ pid, addr: A })
      const child = s.fork({ pid }).pid
      const p = mustPfn(s, pid, A)
      s.referenced({ pfn: p })
      s.unmap({ pfn: p })
      const r = s.read({ pid, addr: A })
      const slot = s.frame(r.pfn as number).swapSlot
      const m = s.migrate({ pfn: r.pfn as number })
      t.equal(s.frame(m.newPfn).swapSlot, slot)
      t.equal(s.read({ pid: child, addr: A }).pfn, m.newPfn, 'the swap cache lookup finds the new frame')
      clean(t, s)
    })
  }

  t.test(`[${kernel}] evict (shrink_folio_list, page cache): only clean, unmapped page-cache pages are dropped`, async (t) => {
    const { s, pid } = setup(kernel)
    s.createFile({ name: 'f', pages: 4 })
    s.mmap({ pid, addr: A, pages: 4, file: 'f', shared: true })
    s.read({ pid, addr: A }) // mapped
    s.write({ pid, addr: A + PAGE }) // dirty
    s.read({ pid, addr: A + 2 * PAGE })
    s.read({ pid, addr: A + 3 * PAGE })
    const dirty = mustPfn(s, pid, A + PAGE)
    const c2 = mustPfn(s, pid, A + 2 * PAGE)
    s.madvise({ pid, addr: A + PAGE, pages: 3, advice: 'dontneed' }) // unmap 1..3; page 1 stays dirty
    const e = s.evict({ file: 'f' })
    t.same(e.evicted.map((x) => x.index), [2, 3])
    t.same(e.kept.map((x) => x.index), [0, 1])
    t.match(e.kept[0].why, /mapped/)
    t.match(e.kept[1].why, /dirty/)
    t.equal(s.frame(c2).kind, 'free')
    t.equal(s.fileInfo('f').cached, 2)
    t.same(s.writeback({ file: 'f' }).written, [{ index: 1, pfn: dirty }], 'the page zap_pte_range dirtied is written back')
    t.same(s.evict({ file: 'f' }).evicted.map((x) => x.index), [1], 'clean after write-back: evictable')
    const r = s.read({ pid, addr: A + 2 * PAGE })
    t.not(r.pfn, c2, 'read in again into a new frame')
    rejects(t, s, () => s.evict({ file: 'nope' }), { name: 'NotFoundError', code: 'not_found', errno: 'ENOENT' }, 'unknown file')
    clean(t, s)
  })

  t.test(`[${kernel}] evict: shmem pages are never evicted; dropCaches sums over files`, async (t) => {
    const { s, pid } = setup(kernel)
    s.createFile({ name: 'a', pages: 2 })
    s.createFile({ name: 'b', pages: 1 })
    s.mmap({ pid, addr: A, pages: 2, file: 'a' })
    s.mmap({ pid, addr: B, pages: 1, file: 'b' })
    s.mmap({ pid, addr: B + 0x100000, pages: 1, shared: true })
    readPages(s, pid, [A, A + PAGE, B])
    s.write({ pid, addr: B + 0x100000 })
    const shm = mustPfn(s, pid, B + 0x100000)
    s.munmap({ pid, addr: A, pages: 2 })
    s.munmap({ pid, addr: B, pages: 1 })
    t.equal(s.dropCaches(), 3)
    t.equal(s.stats().framesByKind.file, undefined)
    const shmSpace = [...s.state.spaces.values()].find((x) => x.kind === 'shmem')
    if (shmSpace === undefined) throw new Error('no shmem object')
    s.madvise({ pid, addr: B + 0x100000, pages: 1, advice: 'dontneed' })
    const e = evictFile(s.state, shmSpace)
    t.same(e.evicted, [])
    t.equal(e.kept.length, 1)
    t.match(e.kept[0].why, /shmem/)
    t.equal(s.frame(shm).kind, 'shmem')
    t.equal(s.read({ pid, addr: B + 0x100000 }).pfn, shm)
    clean(t, s)
  })
}

function readPages (s: Simulator, pid: number, addrs: number[]): void {
  for (const a of addrs) s.read({ pid, addr: a })
}

// ------------------------------------------------------------------ where the models differ

t.test('try_to_unmap_one (2.6.11): a young PTE makes it fail (and clears the bit); a second call succeeds', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  const p = mustPfn(s, pid, A)
  t.equal(pteAt(s, pid, A).accessed, true)
  const u1 = s.unmap({ pfn: p })
  t.equal(u1.success, false)
  t.equal(u1.unmapped, 0)
  t.equal(u1.freed, false)
  t.match(u1.reason ?? '', /young/)
  t.equal(pteAt(s, pid, A).kind, 'present', 'still mapped')
  t.equal(pteAt(s, pid, A).accessed, false, 'ptep_clear_flush_young cleared it')
  t.equal(s.frame(p).mapcount, 1)
  t.not(s.frame(p).swapSlot, null, 'add_to_swap already put it in the swap cache')
  clean(t, s)
  const u2 = s.unmap({ pfn: p })
  t.equal(u2.success, true)
  t.equal(u2.swapSlot, u1.swapSlot, 'the same slot')
  t.equal(pteAt(s, pid, A).kind, 'swap')
  clean(t, s)
})

t.test('try_to_unmap_anon (2.6.11): the list walk stops at the first young PTE; earlier (old) PTEs are already swap entries', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  const p = mustPfn(s, pid, A)
  const child = s.fork({ pid }).pid // the child's PTE is old and first on the list
  const u1 = s.unmap({ pfn: p })
  t.equal(u1.success, false)
  t.equal(u1.unmapped, 1)
  t.equal(pteAt(s, child, A).kind, 'swap')
  t.equal(pteAt(s, pid, A).kind, 'present')
  t.equal(s.frame(p).mapcount, 1)
  clean(t, s)
  const u2 = s.unmap({ pfn: p })
  t.equal(u2.success, true)
  t.equal(u2.unmapped, 1)
  t.equal(s.state.swap.count(u2.swapSlot as number), 2)
  clean(t, s)
})

t.test('try_to_unmap_one (6.18): young PTEs are not refused (that is folio_referenced\'s job)', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  s.fork({ pid })
  const p = mustPfn(s, pid, A)
  t.equal(pteAt(s, pid, A).accessed, true)
  const u = s.unmap({ pfn: p })
  t.equal(u.success, true)
  t.equal(u.unmapped, 2)
  t.equal(u.reason, undefined)
  clean(t, s)
})

t.test('try_to_unmap_one (6.18): an exclusive page gets an exclusive swap entry; a shared one does not', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 2 })
  writeAll(s, pid, A, 2)
  s.unmap({ pfn: mustPfn(s, pid, A) })
  t.equal(pteAt(s, pid, A).exclusive, true)
  const child = s.fork({ pid }).pid
  s.unmap({ pfn: mustPfn(s, pid, A + PAGE) })
  t.equal(pteAt(s, pid, A + PAGE).exclusive, false)
  t.equal(pteAt(s, child, A + PAGE).exclusive, false)
  clean(t, s)
})

t.test('page_referenced (2.6.11): TestClearPageReferenced counts PG_referenced, which do_anonymous_page set (SetPageReferenced)', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  const p = mustPfn(s, pid, A)
  t.ok(s.frame(p).flags.includes('referenced'), 'do_anonymous_page: SetPageReferenced(page)')
  t.same(s.referenced({ pfn: p }), { referenced: 2, ptes: 1 }, 'young PTE + PG_referenced')
  t.same(s.referenced({ pfn: p }), { referenced: 0, ptes: 1 })
  clean(t, s)
})
