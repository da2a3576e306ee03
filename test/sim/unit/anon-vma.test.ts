import t from 'tap'
import type { Simulator, RmapStep } from '../../../src/sim/index.js'
import { A, B, PAGE, clean, mustPfn, setup } from './fixtures/helpers.js'

const av = (s: Simulator, id: number | null): NonNullable<ReturnType<Simulator['state']['anonVmas']['get']>> => {
  const x = id === null ? undefined : s.state.anonVmas.get(id)
  if (x === undefined) throw new Error(`no anon_vma #${String(id)}`)
  return x
}
const vmaSteps = (tr: RmapStep[] | undefined): Array<Extract<RmapStep, { step: 'vma' }>> =>
  (tr ?? []).filter((x): x is Extract<RmapStep, { step: 'vma' }> => x.step === 'vma')

// ------------------------------------------------------------------ 2.6.11

t.test('anon_vma_prepare (2.6.11): the first anonymous page gives the VMA an anon_vma whose list holds it', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.mmap({ pid, addr: A, pages: 2 })
  t.equal(s.stats().anonVmas, 0)
  s.write({ pid, addr: A })
  const v = s.processInfo(pid).vmaList[0]
  t.not(v.anonVma, null)
  t.same(v.anonVmaChain, [], 'no anon_vma_chain in 2.6.11')
  t.same(av(s, v.anonVma).vmas.map((x) => x.id), [v.id])
  t.equal(s.frame(mustPfn(s, pid, A)).mapping.id, v.anonVma)
  clean(t, s)
})

t.test('anon_vma_link (2.6.11): fork puts the child VMA on the parent\'s anon_vma list, at the head; one anon_vma per family', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.mmap({ pid, addr: A, pages: 2 })
  s.write({ pid, addr: A })
  const pv = s.processInfo(pid).vmaList[0]
  const c1 = s.fork({ pid }).pid
  const c1v = s.processInfo(c1).vmaList[0]
  t.equal(c1v.anonVma, pv.anonVma, 'same anon_vma')
  t.same(av(s, pv.anonVma).vmas.map((x) => x.id), [c1v.id, pv.id], 'list_add: the child first')
  const g = s.fork({ pid: c1 }).pid
  const gv = s.processInfo(g).vmaList[0]
  t.same(av(s, pv.anonVma).vmas.map((x) => x.id), [gv.id, c1v.id, pv.id])
  t.equal(s.stats().anonVmas, 1, 'still one anon_vma for the whole family')
  const w = s.write({ pid: g, addr: A })
  t.equal(s.frame(w.pfn as number).mapping.id, pv.anonVma, 'new COW pages go to the family anon_vma')
  // A walk of the grandchild's own page visits every VMA on the list.
  const steps = vmaSteps(s.rmap(w.pfn as number, true).trace)
  t.same(steps.map((x) => x.pid), [g, c1, pid], 'list order')
  t.same(steps.map((x) => x.outcome), ['matched', 'other_pfn', 'other_pfn'])
  clean(t, s)
})

t.test('anon_vma_unlink (2.6.11): the anon_vma is freed when its list becomes empty', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  const child = s.fork({ pid }).pid
  s.exit({ pid })
  t.equal(s.stats().anonVmas, 1, 'the child still uses it')
  s.munmap({ pid: child, addr: A, pages: 1 })
  t.equal(s.stats().anonVmas, 0)
  clean(t, s)
})

t.test('split_vma (2.6.11): both pieces stay on the same anon_vma list', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.mmap({ pid, addr: A, pages: 4 })
  s.write({ pid, addr: A })
  s.munmap({ pid, addr: A + PAGE, pages: 1 })
  const vl = s.processInfo(pid).vmaList
  t.equal(vl.length, 2)
  t.equal(vl[0].anonVma, vl[1].anonVma)
  t.same(av(s, vl[0].anonVma).vmas.map((x) => x.id).sort(), vl.map((v) => v.id).sort())
  clean(t, s)
})

t.test('find_mergeable_anon_vma (2.6.11): a forked VMA\'s anon_vma is shared with a compatible new neighbour', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  const child = s.fork({ pid }).pid
  s.mmap({ pid: child, addr: A + PAGE, pages: 1, prot: 'rwx' })
  s.write({ pid: child, addr: A + PAGE })
  const vl = s.processInfo(child).vmaList
  t.equal(vl[1].anonVma, vl[0].anonVma)
  t.equal(s.stats().anonVmas, 1)
  clean(t, s)
})

// ------------------------------------------------------------------ 6.18

t.test('__anon_vma_prepare (6.18): a new root anon_vma (self-parent link), one AVC in its interval tree', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 2 })
  s.write({ pid, addr: A + PAGE })
  const v = s.processInfo(pid).vmaList[0]
  const root = av(s, v.anonVma)
  t.equal(root.root, root, 'root is itself')
  t.equal(root.parent, root)
  t.equal(root.numChildren, 1, 'num_children++ for the self-parent link')
  t.equal(root.numActiveVmas, 1)
  t.same(v.anonVmaChain, [root.id])
  t.same([...root.tree.values()].map((c) => c.vma.id), [v.id])
  clean(t, s)
})

t.test('anon_vma_fork (6.18): the child VMA is chained to the parent\'s anon_vmas and gets its own, whose root is the parent\'s root', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 2 })
  s.write({ pid, addr: A })
  const pv = s.processInfo(pid).vmaList[0]
  const child = s.fork({ pid }).pid
  const cv = s.processInfo(child).vmaList[0]
  t.not(cv.anonVma, pv.anonVma, 'its own anon_vma')
  t.same(cv.anonVmaChain, [pv.anonVma, cv.anonVma], 'AVCs: the parent\'s (cloned) then its own')
  const own = av(s, cv.anonVma)
  const root = av(s, pv.anonVma)
  t.equal(own.root, root)
  t.equal(own.parent, root)
  t.equal(root.numChildren, 2, 'self + the child')
  t.equal(own.numActiveVmas, 1)
  t.same([...root.tree.values()].map((c) => c.vma.id).sort(), [pv.id, cv.id].sort(), 'the root tree holds both VMAs')
  t.same([...own.tree.values()].map((c) => c.vma.id), [cv.id])
  t.equal(s.stats().anonVmas, 2)
  clean(t, s)
})

t.test('wp_page_copy (6.18): new COW pages go to the child\'s own anon_vma, so a walk of them visits only the child', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 2 })
  s.write({ pid, addr: A })
  const orig = mustPfn(s, pid, A)
  const c1 = s.fork({ pid }).pid
  const c2 = s.fork({ pid }).pid
  const w = s.write({ pid: c1, addr: A })
  const c1av = s.processInfo(c1).vmaList[0].anonVma
  t.equal(s.frame(w.pfn as number).mapping.id, c1av)
  const steps = vmaSteps(s.rmap(w.pfn as number, true).trace)
  t.same(steps.map((x) => x.pid), [c1], 'neither the parent nor the sibling is visited')
  t.equal(steps[0].outcome, 'matched')
  const rootSteps = vmaSteps(s.rmap(orig, true).trace)
  t.same(rootSteps.map((x) => x.pid).sort(), [pid, c1, c2].sort(), 'the original (root) page: every VMA of the family')
  t.equal(rootSteps.find((x) => x.pid === c1)?.outcome, 'other_pfn')
  t.equal(s.write({ pid, addr: A + PAGE }).path, 'anon_alloc')
  t.equal(s.frame(mustPfn(s, pid, A + PAGE)).mapping.id, s.processInfo(pid).vmaList[0].anonVma)
  clean(t, s)
})

t.test('anon_vma_fork (6.18): a grandchild chains to all three generations', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  const c = s.fork({ pid }).pid
  const g = s.fork({ pid: c }).pid
  const [pv, cv, gv] = [pid, c, g].map((p) => s.processInfo(p).vmaList[0])
  t.same(gv.anonVmaChain, [pv.anonVma, cv.anonVma, gv.anonVma])
  t.equal(av(s, gv.anonVma).parent.id, cv.anonVma)
  t.equal(av(s, gv.anonVma).root.id, pv.anonVma)
  t.equal(av(s, cv.anonVma).numChildren, 1)
  clean(t, s)
})

t.test('anon_vma_clone (6.18): a fork reuses an anon_vma with no active VMA and fewer than two children', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  const b = s.fork({ pid, child: 'b' }).pid
  const bAv = s.processInfo(b).vmaList[0].anonVma
  const c = s.fork({ pid: b, child: 'c' }).pid
  s.exit({ pid: b })
  t.ok(s.state.anonVmas.has(bAv as number), 'b\'s anon_vma survives: c is chained to it')
  t.equal(av(s, bAv).numActiveVmas, 0)
  t.equal(av(s, bAv).numChildren, 1)
  const count = s.stats().anonVmas
  const d = s.fork({ pid: c, child: 'd' }).pid
  const dv = s.processInfo(d).vmaList[0]
  t.equal(dv.anonVma, bAv, 'd reuses b\'s orphaned anon_vma instead of allocating one')
  t.equal(s.stats().anonVmas, count, 'no new anon_vma')
  t.equal(av(s, bAv).numActiveVmas, 1)
  clean(t, s)
})

t.test('unlink_anon_vmas (6.18): a child\'s anon_vma is freed with its VMA; the root goes when the family is gone', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  const child = s.fork({ pid }).pid
  const cav = s.processInfo(child).vmaList[0].anonVma as number
  s.write({ pid: child, addr: A })
  s.exit({ pid: child })
  t.notOk(s.state.anonVmas.has(cav))
  t.equal(s.stats().anonVmas, 1)
  s.exit({ pid })
  t.equal(s.stats().anonVmas, 0)
  clean(t, s)
})

t.test('unlink_anon_vmas (6.18): the root outlives its own VMA while a child still uses it', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  const rootId = s.processInfo(pid).vmaList[0].anonVma as number
  const p = mustPfn(s, pid, A)
  const child = s.fork({ pid }).pid
  s.exit({ pid })
  t.ok(s.state.anonVmas.has(rootId), 'the child\'s AVC keeps it')
  t.same(s.rmap(p).mappings.map((m) => m.pid), [child], 'the root page is still found')
  s.exit({ pid: child })
  t.equal(s.stats().anonVmas, 0)
  clean(t, s)
})

t.test('__split_vma (6.18): anon_vma_clone gives the new piece the same AVCs, re-keyed by its pgoff range', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 4 })
  s.write({ pid, addr: A })
  s.write({ pid, addr: A + 3 * PAGE })
  const child = s.fork({ pid }).pid
  s.munmap({ pid: child, addr: A + PAGE, pages: 2 })
  const vl = s.processInfo(child).vmaList
  t.equal(vl.length, 2)
  t.same(vl[0].anonVmaChain, vl[1].anonVmaChain)
  t.equal(vl[0].anonVma, vl[1].anonVma)
  const p3 = mustPfn(s, pid, A + 3 * PAGE)
  const steps = vmaSteps(s.rmap(p3, true).trace)
  t.same(steps.map((x) => [x.pid, x.start]).sort(), [[pid, A], [child, A + 3 * PAGE]].sort(), 'the interval tree query at the index finds only VMAs covering it')
  t.ok(steps.every((x) => x.outcome === 'matched'))
  clean(t, s)
})

t.test('reusable_anon_vma (6.18): a neighbour with a non-singular chain (forked) is not shared', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  const child = s.fork({ pid }).pid
  s.mmap({ pid: child, addr: A + PAGE, pages: 1, prot: 'rwx' })
  s.write({ pid: child, addr: A + PAGE })
  const vl = s.processInfo(child).vmaList
  t.not(vl[1].anonVma, vl[0].anonVma, 'a new root anon_vma')
  t.same(vl[1].anonVmaChain, [vl[1].anonVma])
  s.mmap({ pid, addr: B, pages: 1 })
  s.mmap({ pid, addr: B + PAGE, pages: 1, prot: 'rwx' })
  s.write({ pid, addr: B })
  s.write({ pid, addr: B + PAGE })
  const pl = s.processInfo(pid).vmaList.filter((v) => v.start >= B)
  t.equal(pl[1].anonVma, pl[0].anonVma, 'a singular-chain neighbour is shared')
  clean(t, s)
})

t.test('__folio_set_anon (6.18): a page swapped in without the exclusive marker points at the root anon_vma', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  const rootId = s.processInfo(pid).vmaList[0].anonVma
  const c = s.fork({ pid }).pid
  s.write({ pid: c, addr: A }) // c's own copy, in c's anon_vma
  const cp = mustPfn(s, c, A)
  const cAv = s.processInfo(c).vmaList[0].anonVma
  t.equal(s.frame(cp).mapping.id, cAv)
  const g = s.fork({ pid: c }).pid
  t.ok(s.unmap({ pfn: cp }).success)
  const r = s.read({ pid: c, addr: A })
  t.equal(r.path, 'swap_in')
  t.equal(s.frame(r.pfn as number).mapping.id, rootId, 'not exclusive: anon_vma->root')
  t.equal(s.read({ pid: g, addr: A }).pfn, r.pfn)
  t.same(s.rmap(r.pfn as number).mappings.map((m) => m.pid).sort(), [c, g].sort(), 'the root tree finds both')
  clean(t, s)
})
