/**
 * The 2.6.11 model against the 2.6.11 source (sndrzt/linux-2.6.11 ab87db4e, x86_64), one test per
 * place where it used to follow modern kernels; each names the file and function it follows. The
 * 6.18 model's behaviour at the same places is checked alongside where it differs.
 */
import t from 'tap'
import type { RmapStep } from '../../../src/sim/index.js'
import { A, PAGE, clean, mustPfn, pteAt, setup, writeAll } from './fixtures/helpers.js'

type VmaStep = Extract<RmapStep, { step: 'vma' }>
type ObjectStep = Extract<RmapStep, { step: 'object' }>
const visited = (tr: RmapStep[] | undefined): Array<[number, number]> =>
  (tr ?? []).filter((x): x is VmaStep => x.step === 'vma').map((x) => [x.pid, x.vmaId])
const doneNote = (tr: RmapStep[] | undefined): string => {
  const d = (tr ?? []).at(-1)
  return d?.step === 'done' ? d.note : ''
}

t.test('mm/mmap.c do_munmap(): split_vma(mm, mpnt, start, 0) and split_vma(mm, last, end, 1) keep the original VMA below the hole', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.mmap({ pid, addr: A, pages: 4 })
  writeAll(s, pid, A, 4)
  const original = s.processInfo(pid).vmaList[0].id
  const child = s.fork({ pid }).pid
  s.munmap({ pid, addr: A + PAGE, pages: 1 })
  const vmas = s.processInfo(pid).vmaList
  t.same(vmas.map((v) => [v.start, v.end]), [[A, A + PAGE], [A + 2 * PAGE, A + 4 * PAGE]])
  t.equal(vmas[0].id, original, 'the vm_area_struct below the hole is the original one')
  t.not(vmas[1].id, original, 'the piece above is new')
  // anon_vma->head after fork is [child, parent] (anon_vma_link: list_add); the splits add the new
  // pieces at the head, the original parent VMA keeps its place behind the child's: child first.
  const tr = s.rmap(mustPfn(s, pid, A), true).trace
  t.same(visited(tr).filter(([, id]) => id !== vmas[1].id).map(([p]) => p), [child, pid], 'the walk visits the child before the parent')
  clean(t, s)
})

t.test('6.18 vms_gather_munmap_vmas(): the originals are the pieces removed; the survivors are new VMAs', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 4 })
  const original = s.processInfo(pid).vmaList[0].id
  s.munmap({ pid, addr: A + PAGE, pages: 1 })
  t.notOk(s.processInfo(pid).vmaList.some((v) => v.id === original), '__split_vma(vmi, vma, start, 1): the lower piece is new')
  clean(t, s)
})

t.test('mm/swap.c mark_page_accessed(): file faults, swap-ins and zaps of young file PTEs mark pages accessed; new anonymous pages are active', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.createFile({ name: 'f', pages: 2 })
  s.mmap({ pid, addr: A, pages: 2, file: 'f', shared: true })
  const r = s.read({ pid, addr: A })
  const file = r.pfn as number
  t.same(s.frame(file).flags.filter((f) => f === 'referenced' || f === 'active'), ['referenced'], 'filemap_nopage(): first access sets PG_referenced')
  const other = s.spawn({}).pid
  s.mmap({ pid: other, addr: A, pages: 2, file: 'f', shared: true })
  s.read({ pid: other, addr: A })
  t.same(s.frame(file).flags.filter((f) => f === 'referenced' || f === 'active'), ['active'], 'the second: inactive + referenced -> activate_page(), ClearPageReferenced')
  s.write({ pid, addr: A + PAGE })
  const second = mustPfn(s, pid, A + PAGE)
  s.referenced({ pfn: second }) // clears PG_referenced and the PTE's young bit
  s.write({ pid, addr: A + PAGE }) // the MMU sets young again
  t.notOk(s.frame(second).flags.includes('referenced'))
  s.munmap({ pid, addr: A + PAGE, pages: 1 })
  t.ok(s.frame(second).flags.includes('referenced'), 'zap_pte_range(): a young file PTE -> mark_page_accessed()')

  s.mmap({ pid, addr: A + 0x100000, pages: 1 })
  const w = s.write({ pid, addr: A + 0x100000 })
  const anon = w.pfn as number
  t.same(s.frame(anon).flags.filter((f) => f === 'referenced' || f === 'active'), ['referenced', 'active'], 'do_anonymous_page(): lru_cache_add_active(), SetPageReferenced()')
  s.referenced({ pfn: anon })
  if (!s.unmap({ pfn: anon }).success) s.unmap({ pfn: anon })
  const back = s.read({ pid, addr: A + 0x100000 })
  t.equal(back.path, 'swap_in')
  t.same(s.frame(back.pfn as number).flags.filter((f) => f === 'referenced' || f === 'active'), ['referenced', 'active'], 'read_swap_cache_async(): lru_cache_add_active(); do_swap_page(): mark_page_accessed()')
  clean(t, s)
})

t.test('page_referenced() counts PG_referenced set by mark_page_accessed (2.6.11 TestClearPageReferenced); 6.18 shows no page activity', async (t) => {
  for (const kernel of ['2.6.11', '6.18'] as const) {
    const { s, pid } = setup(kernel)
    s.createFile({ name: 'f', pages: 1 })
    s.mmap({ pid, addr: A, pages: 1, file: 'f' })
    const pfn = s.read({ pid, addr: A }).pfn as number
    t.equal(s.referenced({ pfn }).referenced, kernel === '2.6.11' ? 2 : 1, `${kernel}: the young PTE${kernel === '2.6.11' ? ' and PG_referenced' : ''}`)
    t.notOk(s.frame(pfn).flags.includes('active'), `${kernel}: no PG_active for a page-cache page accessed once`)
    clean(t, s)
  }
})

t.test('mm/rmap.c: the walks stop once every mapping is found (page_referenced: !mapcount; try_to_unmap: !page_mapped)', async (t) => {
  for (const kernel of ['2.6.11', '6.18'] as const) {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.write({ pid, addr: A })
    const pfn = mustPfn(s, pid, A)
    // Children that COW their own copy stay on the anon_vma's list (2.6.11) or tree (6.18) but do not map the page.
    const children = [s.fork({ pid }).pid, s.fork({ pid }).pid]
    for (const c of children) s.write({ pid: c, addr: A })
    const all = s.rmap(pfn, true).trace
    const ref = s.referenced({ pfn, trace: true })
    t.ok(visited(ref.trace).length <= visited(all).length, `${kernel}: page_referenced visits no more than the full walk`)
    const lastVisited = visited(ref.trace).at(-1)
    t.same(lastVisited?.[0], pid, `${kernel}: the walk ends at the only mapping`)
    if (visited(ref.trace).length < visited(all).length) t.match(doneNote(ref.trace), /mapcount reached 0\): the walk stops/)
    const unmap = s.unmap({ pfn, trace: true })
    if (!unmap.success) s.unmap({ pfn })
    t.equal(pteAt(s, pid, A).kind, 'swap')
    clean(t, s)
  }
  // A list where the mapping comes first: everything after it is skipped. In 2.6.11 the child's
  // VMA is at the head of anon_vma->head (list_add), so a page only the child maps is found first.
  const { s, pid } = setup('2.6.11')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  const child = s.fork({ pid }).pid
  const copy = s.write({ pid: child, addr: A }).pfn as number
  const full = visited(s.rmap(copy, true).trace)
  const ref = s.referenced({ pfn: copy, trace: true })
  t.same(visited(ref.trace).map(([p]) => p), [child], 'page_referenced_anon(): the child is first and holds the only mapping')
  t.ok(full.length > 1, 'the query walks the whole list')
  t.match(doneNote(ref.trace), /1 VMA\(s\) not visited/)
  const un = s.unmap({ pfn: copy, trace: true })
  t.same(visited(un.trace).map(([p]) => p), [child], 'try_to_unmap_anon(): !page_mapped(page) ends the walk')
  clean(t, s)
})

t.test('mm/rmap.c page_referenced_file(): a VM_LOCKED|VM_MAYSHARE VMA counts as referenced and ends the walk', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.createFile({ name: 'f', pages: 1 })
  s.mmap({ pid, addr: A, pages: 1, file: 'f', shared: true })
  s.mlock({ pid, addr: A, pages: 1 })
  const pfn = mustPfn(s, pid, A)
  s.referenced({ pfn }) // clear what the faults left
  const r = s.referenced({ pfn, trace: true })
  t.equal(r.referenced, 1, 'referenced++ for the locked shared VMA, its PTE untested')
  t.same(visited(r.trace), [], 'the walk stops before visiting it')
  t.match(doneNote(r.trace), /VM_LOCKED\|VM_MAYSHARE counts as referenced/)
  clean(t, s)
})

t.test('i_mmap is a priority search tree (mm/prio_tree.c): vma_prio_tree_foreach visits a 4-page VMA before a 1-page one; the trace shows its nodes', async (t) => {
  for (const kernel of ['2.6.11', '6.18'] as const) {
    const { s, pid } = setup(kernel)
    s.createFile({ name: 'f', pages: 4 })
    const one = s.mmap({ pid, addr: A, pages: 1, file: 'f', shared: true })
    const four = s.mmap({ pid, addr: A + 0x100000, pages: 4, file: 'f', shared: true })
    s.read({ pid, addr: A })
    s.read({ pid, addr: A + 0x100000 })
    const tr = s.rmap(mustPfn(s, pid, A), true).trace
    const order = visited(tr).map(([, id]) => id)
    const obj = (tr ?? []).find((x): x is ObjectStep => x.step === 'object')
    if (kernel === '2.6.11') {
      t.same(order, [four.id, one.id], 'prio_tree_insert(): [0,3] has the larger heap index and becomes the root')
      t.same(obj?.treeNodes?.map((n) => [n.radix, n.heap, n.vmaIds]), [[0, 3, [four.id]], [0, 0, [one.id]]], 'the nodes the walk stepped onto')
      t.match(obj?.structure, /priority tree/)
    } else {
      t.same(order, [one.id, four.id], 'the interval tree: equal starts in insertion order')
      t.equal(obj?.treeNodes, undefined)
    }
    clean(t, s)
  }
})

t.test('dup_mmap(): vma_prio_tree_add(tmp, mpnt) adds the child to its parent\'s node: after a list member, or at the tail of the tree node\'s list', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.createFile({ name: 'f', pages: 2 })
  const v = s.mmap({ pid, addr: A, pages: 2, file: 'f', shared: true })
  const other = s.spawn({}).pid
  const w = s.mmap({ pid: other, addr: A, pages: 2, file: 'f', shared: true })
  s.read({ pid, addr: A })
  const child = s.fork({ pid }).pid
  const cv = s.processInfo(child).vmaList[0].id
  const tr = s.rmap(mustPfn(s, pid, A), true).trace
  const obj = (tr ?? []).find((x): x is ObjectStep => x.step === 'object')
  // The parent is the tree node and the other process's VMA heads its list: the child goes to the tail
  // (list_add_tail(&vma->shared.vm_set.list, &old->shared.vm_set.head->shared.vm_set.list)).
  t.same(obj?.treeNodes?.map((n) => n.vmaIds), [[v.id, w.id, cv]], 'one node: the parent, the other process, then the child')
  // Forking the other process: its VMA is a list member, so the child goes right after it (list_add).
  const grandchild = s.fork({ pid: other }).pid
  const gv = s.processInfo(grandchild).vmaList[0].id
  const again = (s.rmap(mustPfn(s, pid, A), true).trace ?? []).find((x): x is ObjectStep => x.step === 'object')
  t.same(again?.treeNodes?.map((n) => n.vmaIds), [[v.id, w.id, gv, cv]], 'list_add(&vma->shared.vm_set.list, &old->shared.vm_set.list)')
  clean(t, s)
})

t.test('the priority tree survives a snapshot exactly (its walk order depends on its history)', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.createFile({ name: 'f', pages: 8 })
  for (const [off, pages] of [[0, 1], [0, 4], [2, 2], [1, 6], [0, 1]] as const) s.mmap({ pid, pages, file: 'f', offset: off, shared: true, prot: 'r' })
  s.munmap({ pid, addr: s.processInfo(pid).vmaList[1].start, pages: 1 })
  const snap = s.snapshot()
  t.ok(snap.spaces[0].immapTree !== undefined, 'the snapshot holds the tree')
  const { Simulator } = await import('../../../src/sim/index.js')
  const copy = Simulator.fromSnapshot(snap)
  for (let index = 0; index < 8; index++) {
    const a = s.state.files.get('f')?.immap.traceQuery?.(index, index).map((n) => [n.radix, n.heap, n.values.map((x) => x.id)])
    const b = copy.state.files.get('f')?.immap.traceQuery?.(index, index).map((n) => [n.radix, n.heap, n.values.map((x) => x.id)])
    t.same(b, a, `index ${index}: the same nodes in the same order`)
  }
  t.same(copy.snapshot(), snap)
  clean(t, copy)
})

t.test('features 2.6.11 did not have are refused, naming the version that added them', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.createFile({ name: 'f', pages: 1 })
  s.mmap({ pid, addr: A, pages: 1, file: 'f', shared: true })
  const pfn = s.write({ pid, addr: A }).pfn as number
  t.throws(() => s.mkclean({ pfn }), { name: 'UnsupportedError', code: 'unsupported', message: /page_mkclean\(\) is not in Linux 2\.6\.11: it came in 2\.6\.19/ })
  t.throws(() => s.migrate({ pfn }), { name: 'UnsupportedError', code: 'unsupported', message: /page migration is not in Linux 2\.6\.11: it came in 2\.6\.16/ })
  t.same(s.journal.map((e) => e.op), ['spawn', 'createFile', 'mmap', 'write'], 'refused: nothing journaled')
  clean(t, s)
})

t.test('writeback (filemap_fdatawrite): 2.6.11 clears PG_dirty and leaves the dirty PTE, which dirties the page again at zap; 6.18 cleans the PTE first (folio_mkclean)', async (t) => {
  for (const kernel of ['2.6.11', '6.18'] as const) {
    const { s, pid } = setup(kernel)
    s.createFile({ name: 'f', pages: 2 })
    s.mmap({ pid, addr: A, pages: 2, file: 'f', shared: true })
    const pfn = s.write({ pid, addr: A }).pfn as number
    s.munmap({ pid, addr: A + PAGE, pages: 1 }) // a page that was never written stays clean
    if (kernel === '2.6.11') {
      t.notOk(s.frame(pfn).flags.includes('dirty'), '2.6.11: the dirt is in the PTE only')
      t.same(s.writeback({ file: 'f' }), { written: [], ptesCleaned: 0 }, 'so writeback finds nothing to write (what msync and page_mkclean were for)')
      s.munmap({ pid, addr: A, pages: 1 })
      t.ok(s.frame(pfn).flags.includes('dirty'), 'zap_pte_range(): set_page_dirty() from the dirty PTE')
      t.same(s.writeback({ file: 'f' }), { written: [{ index: 0, pfn }], ptesCleaned: 0 }, 'clear_page_dirty_for_io()')
      t.notOk(s.frame(pfn).flags.includes('dirty'))
    } else {
      t.same(s.writeback({ file: 'f' }), { written: [{ index: 0, pfn }], ptesCleaned: 1 }, 'folio_clear_dirty_for_io() -> folio_mkclean()')
      t.same([pteAt(s, pid, A).writable, pteAt(s, pid, A).dirty], [false, false], 'write-protected and clean: the next write faults')
      t.equal(s.write({ pid, addr: A }).path, 'shared_write_notify')
      t.ok(s.frame(pfn).flags.includes('dirty'), 'and dirties the page again (fault_dirty_shared_page)')
    }
    t.same(s.journal.at(-1)?.op, kernel === '2.6.11' ? 'writeback' : 'write')
    clean(t, s)
  }
})

t.test('MAP_FIXED_NOREPLACE (4.17) in 2.6.11: the address as a checked hint, as a 2.6.11 program would do it', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.mmap({ pid, addr: A, pages: 2 })
  t.equal(s.mmap({ pid, addr: A + 4 * PAGE, pages: 1 }).start, A + 4 * PAGE, 'a free range: arch_get_unmapped_area() keeps the hint')
  t.throws(() => s.mmap({ pid, addr: A + PAGE, pages: 1 }), { code: 'conflict', errno: 'EEXIST', message: /came in 4\.17: 2\.6\.11 takes the address as a hint/ }, 'a taken range: the hint would move')
  t.throws(() => s.mmap({ pid, addr: 0, pages: 1 }), { code: 'conflict', errno: 'EEXIST', message: /address 0 is no hint in 2\.6\.11/ }, 'address 0 is no hint')
  const six = setup('6.18')
  t.throws(() => six.s.mmap({ pid: six.pid, addr: 0, pages: 1 }), { code: 'invalid_argument', errno: 'EPERM' }, '6.18: below vm.mmap_min_addr')
  clean(t, s)
})

t.test('vma_adjust(): a split puts the new piece into i_mmap before the original goes out and back (the tree never empties)', async (t) => {
  // The reviewer's case: with the old order the priority tree emptied during the split and reset
  // index_bits to 1 (prio_tree_remove -> __INIT_PRIO_TREE_ROOT), changing the later walk order.
  const { s, pid } = setup('2.6.11')
  s.createFile({ name: 'f', pages: 128 })
  s.mmap({ pid, addr: 0x10000000, pages: 128, file: 'f', shared: true, prot: 'r' })
  s.mmap({ pid, addr: 0x20000000, pages: 8, file: 'f', shared: true, prot: 'r' })
  s.munmap({ pid, addr: 0x10000000, pages: 128 })
  s.munmap({ pid, addr: 0x20007000, pages: 1 })
  s.mmap({ pid, addr: 0x30000000, pages: 2, file: 'f', offset: 4, shared: true, prot: 'r' })
  s.mmap({ pid, addr: 0x40000000, pages: 5, file: 'f', shared: true, prot: 'r' })
  const order = [...(s.state.files.get('f')?.immap.query(4, 4) ?? [])].map((v) => v.start)
  t.same(order, [0x20000000, 0x30000000, 0x40000000], 'the order the C code gives (index_bits 7)')
  t.equal(s.snapshot().spaces[0].immapTree?.indexBits, 7)
  clean(t, s)
})

t.test('mprotect_fixup(): vma_merge() before any split: the boundary moves, no VMA is made (cases 4 and 5)', async (t) => {
  for (const kernel of ['2.6.11', '6.18'] as const) {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 6 })
    s.write({ pid, addr: A })
    s.write({ pid, addr: A + 4 * PAGE })
    s.mprotect({ pid, addr: A + 2 * PAGE, pages: 4, prot: 'r' })
    const [low, high] = s.processInfo(pid).vmaList.map((v) => v.id)
    s.mprotect({ pid, addr: A + 2 * PAGE, pages: 2, prot: 'rw' })
    t.same(s.processInfo(pid).vmaList.map((v) => [v.id, v.start, v.end]), [[low, A, A + 4 * PAGE], [high, A + 4 * PAGE, A + 6 * PAGE]], `${kernel}: case 5 (merge left): both keep their identity`)
    s.mprotect({ pid, addr: A + 2 * PAGE, pages: 2, prot: 'r' })
    t.same(s.processInfo(pid).vmaList.map((v) => [v.id, v.start, v.end]), [[low, A, A + 2 * PAGE], [high, A + 2 * PAGE, A + 6 * PAGE]], `${kernel}: case 4 (merge right)`)
    t.equal(pteAt(s, pid, A + 2 * PAGE).kind, 'none')
    t.equal(pteAt(s, pid, A).writable, true, 'change_protection() only over the range: the page below keeps its writable PTE')
    clean(t, s)
  }
})

t.test('zap_pte_range(): a dirty PTE dirties an anonymous page too in 2.6.11 (set_page_dirty before the PageAnon test)', async (t) => {
  for (const kernel of ['2.6.11', '6.18'] as const) {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    const pfn = s.write({ pid, addr: A }).pfn as number
    const child = s.fork({ pid }).pid
    s.exit({ pid: child })
    t.equal(s.frame(pfn).flags.includes('dirty'), kernel === '2.6.11', `${kernel}`)
    clean(t, s)
  }
})

t.test('page_referenced(): an unmapped page is not walked (page_mapped(page) && page->mapping)', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.createFile({ name: 'f', pages: 1 })
  s.mmap({ pid, addr: A, pages: 1, file: 'f', shared: true, prot: 'none' })
  s.mlock({ pid, addr: A, pages: 1 })
  const q = s.spawn({}).pid
  s.mmap({ pid: q, addr: A, pages: 1, file: 'f', shared: true, prot: 'r' })
  const pfn = s.read({ pid: q, addr: A }).pfn as number
  s.munmap({ pid: q, addr: A, pages: 1 })
  s.referenced({ pfn }) // clears PG_referenced
  const r = s.referenced({ pfn, trace: true })
  t.equal(r.referenced, 0, 'the locked shared VMA is never reached')
  t.match(doneNote(r.trace), /not mapped: page_referenced does not walk/)
  clean(t, s)
})

t.test('make_pages_present() without force: 2.6.11 mlock faults in neither exec-only VMAs nor untouched read-only anonymous memory', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.mmap({ pid, addr: A, pages: 2, prot: 'x' })
  s.mmap({ pid, addr: A + 0x200000, pages: 2, prot: 'r' })
  s.mlock({ pid, addr: A, pages: 2 })
  s.mlock({ pid, addr: A + 0x200000, pages: 2 })
  t.equal(pteAt(s, pid, A).kind, 'none', 'get_user_pages: no VM_READ, -EFAULT')
  t.equal(pteAt(s, pid, A + 0x200000).kind, 'none', 'untouched_anonymous_page(): the zero page without a fault')
  t.equal(s.processInfo(pid).pageTablePages, 1, 'not even a page table')
  const six = setup('6.18')
  six.s.mmap({ pid: six.pid, addr: A, pages: 2, prot: 'r' })
  six.s.mlock({ pid: six.pid, addr: A, pages: 2 })
  t.equal(pteAt(six.s, six.pid, A).pfn, 4096, '6.18 populate_vma_page_range maps the zero page')
  t.same(s.frame(4096).flags, ['reserved'], 'the 2.6.11 zero page: PG_reserved only (memmap_init_zone)')
  clean(t, s)
})
