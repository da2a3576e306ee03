/**
 * MADV_PAGEOUT and MADV_FREE: mm/madvise.c madvise_cold_or_pageout_pte_range() picks the folios mapped
 * by this PTE alone (folio_mapcount == 1; not the zero page), mm/vmscan.c shrink_folio_list() reclaims
 * them with references ignored: anonymous pages go to swap (add_to_swap, try_to_unmap writes the swap
 * entry, the synchronous write and __remove_mapping free the page), clean page-cache pages leave the
 * cache, dirty ones stay; MADV_FREE (madvise_free_pte_range) makes anonymous pages lazily freeable,
 * and reclaim discards them while clean. do_swap_page() of 6.18 on a synchronous device reads a page
 * whose slot only this PTE uses without the swap cache. 2.6.11 has neither advice.
 */
import t from 'tap'
import { ZERO_PFN } from '../../../src/sim/index.js'
import { A, B, PAGE, clean, mustPfn, pfnAt, pteAt, rejects, setup, writeAll } from './fixtures/helpers.js'

const inv = { name: 'InvalidArgumentError', code: 'invalid_argument' as const }

t.test('[6.18] pageout swaps out exclusive anonymous pages: a swap entry each, the frames freed', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 4 })
  writeAll(s, pid, A, 3)
  const frames = [0, 1, 2].map((i) => mustPfn(s, pid, A + i * PAGE))
  s.pageout({ pid, addr: A, pages: 4 })
  const slots = [0, 1, 2].map((i) => pteAt(s, pid, A + i * PAGE))
  t.same(slots.map((p) => p.kind), ['swap', 'swap', 'swap'])
  t.equal(new Set(slots.map((p) => p.swapOffset)).size, 3, 'a slot each')
  t.ok(slots.every((p) => p.exclusive === true), 'the swap entries say exclusive (PageAnonExclusive was set)')
  t.equal(pteAt(s, pid, A + 3 * PAGE).kind, 'none', 'the never-touched page stays empty')
  for (const pfn of frames) t.equal(s.frame(pfn).kind, 'free', 'written and freed')
  t.equal(s.process(pid).rss.swap, 3)
  // A read of a slot no one else uses: straight into a new page, no swap cache, the slot freed.
  const r = s.read({ pid, addr: A })
  t.equal(r.path, 'swap_in')
  t.equal(s.frame(r.pfn as number).flags.includes('swapcache'), false)
  t.equal(s.stats().swapSlotsUsed, 2)
  clean(t, s)
})

t.test('[6.18] pageout skips shared pages and the zero page; after fork the slot is shared and the swap cache serves both', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 3 })
  writeAll(s, pid, A, 2)
  s.read({ pid, addr: A + 2 * PAGE })
  const child = s.fork({ pid }).pid
  const shared = mustPfn(s, pid, A)
  s.pageout({ pid, addr: A, pages: 3 })
  t.equal(pfnAt(s, pid, A), shared, 'mapped by two: skipped')
  t.equal(pfnAt(s, pid, A + 2 * PAGE), ZERO_PFN, 'the zero page: skipped')
  s.write({ pid: child, addr: A + PAGE })
  s.pageout({ pid, addr: A + PAGE, pages: 1 })
  t.equal(pteAt(s, pid, A + PAGE).kind, 'swap', 'the parent\'s own page after the child\'s COW: swapped')
  // A second family: pageout, then fork shares the slot.
  const p2 = s.spawn({ name: 'q' }).pid
  s.mmap({ pid: p2, addr: B, pages: 1 })
  s.write({ pid: p2, addr: B })
  s.pageout({ pid: p2, addr: B, pages: 1 })
  const c2 = s.fork({ pid: p2 }).pid
  t.equal(pteAt(s, c2, B).swapOffset, pteAt(s, p2, B).swapOffset, 'fork copies the swap entry (swap_duplicate)')
  const r = s.read({ pid: c2, addr: B })
  t.ok(s.frame(r.pfn as number).flags.includes('swapcache'), 'the slot is shared: the page stays in the swap cache')
  t.equal(s.read({ pid: p2, addr: B }).pfn, r.pfn, 'the parent finds it there')
  clean(t, s)
})

t.test('[6.18] pageout of a file mapping: clean cache pages leave the cache, dirty ones stay; MADV_PAGEOUT and MADV_FREE refuse mlocked VMAs', async (t) => {
  const { s, pid } = setup('6.18')
  s.createFile({ name: 'f', pages: 2 })
  s.mmap({ pid, addr: A, pages: 2, file: 'f', shared: true })
  s.read({ pid, addr: A })
  s.write({ pid, addr: A + PAGE })
  s.pageout({ pid, addr: A, pages: 2 })
  t.equal(pteAt(s, pid, A).kind, 'none', 'unmapped, not a swap entry: the page can be read from the file')
  t.equal(pteAt(s, pid, A + PAGE).kind, 'none')
  t.same(s.fileInfo('f').cache.map((c) => c.index), [1], 'the clean page left the cache; the dirty one stays (no writeback in direct reclaim)')
  s.mmap({ pid, addr: B, pages: 1 })
  s.mlock({ pid, addr: B, pages: 1 })
  rejects(t, s, () => s.pageout({ pid, addr: B, pages: 1 }), { ...inv, errno: 'EINVAL' }, 'pageout of a locked VMA')
  rejects(t, s, () => s.free({ pid, addr: B, pages: 1 }), { ...inv, errno: 'EINVAL' }, 'free of a locked VMA')
  rejects(t, s, () => s.free({ pid, addr: A, pages: 1 }), { ...inv, errno: 'EINVAL' }, 'free of a file mapping')
  clean(t, s)
})

t.test('[6.18] MADV_FREE: reclaim discards a clean lazyfree page; a page written since is swapped by the next pageout', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 2 })
  writeAll(s, pid, A, 2)
  s.free({ pid, addr: A, pages: 2 })
  t.notOk(s.frame(mustPfn(s, pid, A)).flags.includes('swapbacked'), 'lazyfree: no longer swap-backed')
  s.write({ pid, addr: A + PAGE })
  const written = mustPfn(s, pid, A + PAGE)
  s.pageout({ pid, addr: A, pages: 2 })
  t.equal(pteAt(s, pid, A).kind, 'none', 'discarded: no swap entry')
  t.equal(pfnAt(s, pid, A + PAGE), written, 'redirtied: kept')
  t.ok(s.frame(written).flags.includes('swapbacked'), 'and swap-backed again')
  s.pageout({ pid, addr: A, pages: 2 })
  t.equal(pteAt(s, pid, A + PAGE).kind, 'swap')
  t.equal(s.read({ pid, addr: A }).pfn, ZERO_PFN, 'the discarded page reads as zeroes')
  s.free({ pid, addr: A + PAGE, pages: 1 })
  t.equal(pteAt(s, pid, A + PAGE).kind, 'none', 'MADV_FREE frees swap entries in the range')
  t.equal(s.stats().swapSlotsUsed, 0)
  clean(t, s)
})

t.test('[2.6.11] MADV_PAGEOUT (5.4) and MADV_FREE (4.5) are refused as unsupported', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.mmap({ pid, addr: A, pages: 1 })
  rejects(t, s, () => s.pageout({ pid, addr: A, pages: 1 }), { name: 'UnsupportedError', code: 'unsupported', errno: 'EINVAL' }, 'pageout')
  t.throws(() => s.free({ pid, addr: A, pages: 1 }), /madvise\(MADV_FREE\) is not in Linux 2\.6\.11: it came in 4\.5/)
})

t.test('[6.18] pageout of a shmem page mapped once: shmem_writepage puts it in swap (a slot the object holds); the next fault reads it back', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 2, shared: true })
  s.write({ pid, addr: A })
  const pfn = mustPfn(s, pid, A)
  s.pageout({ pid, addr: A, pages: 2 })
  t.equal(pteAt(s, pid, A).kind, 'none', 'a shmem PTE is just cleared: the object keeps the swap entry')
  t.equal(s.frame(pfn).kind, 'free')
  t.equal(s.stats().swapSlotsUsed, 1)
  const r = s.read({ pid, addr: A })
  t.equal(r.path, 'file_read')
  t.equal(s.frame(r.pfn as number).kind, 'shmem')
  t.equal(s.stats().swapSlotsUsed, 0, 'shmem_swapin_folio freed the slot')
  s.pageout({ pid, addr: A, pages: 1 })
  s.munmap({ pid, addr: A, pages: 2 })
  t.equal(s.stats().swapSlotsUsed, 0, 'the last mapping gone: shmem_evict_inode frees the swapped page too')
  const snap = s.snapshot()
  t.equal(JSON.stringify(snap).includes('"swapped"'), false, 'no swapped pages left to record')
  clean(t, s)
})

t.test('[6.18] a swapped-out shmem page survives a snapshot round trip', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 1, shared: true })
  s.write({ pid, addr: A })
  s.pageout({ pid, addr: A, pages: 1 })
  const text = JSON.stringify(s.snapshot())
  t.match(text, /"swapped":\[\[0,\d+\]\]/)
  const { Simulator } = await import('../../../src/sim/index.js')
  const b = Simulator.fromSnapshot(JSON.parse(text))
  t.equal(JSON.stringify(b.snapshot()), text)
  t.same(b.check().violations, [])
})

t.test('[6.18] mprotect making a private mlocked VMA writable breaks COW at once (mprotect_fixup populate)', async (t) => {
  const { s, pid } = setup('6.18')
  s.createFile({ name: 'f', pages: 1 })
  s.mmap({ pid, addr: A, pages: 1, file: 'f', prot: 'r' })
  s.mlock({ pid, addr: A, pages: 1 })
  t.equal(s.frame(mustPfn(s, pid, A)).kind, 'file', 'read-only: the cache page is mapped')
  s.mprotect({ pid, addr: A, pages: 1, prot: 'rw' })
  t.equal(s.frame(mustPfn(s, pid, A)).kind, 'anon', 'writable now: an anonymous copy, mlocked')
  t.ok(s.frame(mustPfn(s, pid, A)).flags.includes('mlocked'))
  clean(t, s)
})

t.test('[6.18] MADV_FREE of a page others map: only this PTE is cleaned, so pageout finds the dirt in another PTE and keeps the page', async (t) => {
  // The minimised random-ext-20789 (Linux 6.18 keeps every page mapped): mlock's populate writes the
  // pages (dirty PTEs, clean folios); MADV_POPULATE_WRITE through a dirty PTE does not dirty the folio
  // (follow_page_pte: FOLL_TOUCH marks it dirty only when the PTE is clean), so MADV_FREE in another
  // process makes the shared, clean folio lazyfree; try_to_unmap_one() in the last process finds its
  // PTE dirty (inherited at fork), remaps it and makes the folio swap-backed again.
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 3 })
  s.mlock({ pid, addr: A, pages: 3 })
  s.populate({ pid, addr: A, pages: 3, write: true })
  const pfns = [0, 1, 2].map((i) => mustPfn(s, pid, A + i * PAGE))
  t.notOk(s.frame(pfns[0]).flags.includes('dirty'), 'populate_write through a dirty PTE leaves the folio clean')
  const child = s.fork({ pid }).pid
  const last = s.fork({ pid }).pid
  s.exit({ pid })
  s.free({ pid: child, addr: A, pages: 3 })
  t.notOk(s.frame(pfns[0]).flags.includes('swapbacked'), 'the shared clean folio is lazyfree')
  t.equal(pteAt(s, last, A).dirty, true, 'the other PTE is still dirty')
  s.exit({ pid: child })
  s.pageout({ pid: last, addr: A, pages: 3 })
  t.same([0, 1, 2].map((i) => pfnAt(s, last, A + i * PAGE)), pfns, 'redirtied through the PTE: kept')
  t.ok(s.frame(pfns[0]).flags.includes('swapbacked'), 'and swap-backed again')
  clean(t, s)
})

t.test('[6.18] MADV_POPULATE_WRITE through a clean writable PTE dirties the folio, so a lazyfree page is kept by pageout', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  const pfn = mustPfn(s, pid, A)
  s.free({ pid, addr: A, pages: 1 })
  t.equal(pteAt(s, pid, A).dirty, false, 'MADV_FREE cleaned the PTE')
  s.populate({ pid, addr: A, pages: 1, write: true })
  t.equal(pteAt(s, pid, A).dirty, false, 'GUP follows the writable PTE without faulting')
  t.ok(s.frame(pfn).flags.includes('dirty'), 'but marks the folio dirty (FOLL_TOUCH)')
  s.pageout({ pid, addr: A, pages: 1 })
  t.equal(pfnAt(s, pid, A), pfn, 'a dirty lazyfree folio is not discarded')
  clean(t, s)
})
