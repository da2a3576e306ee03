import t from 'tap'
import { ZERO_PFN, type RmapStep } from '../../../src/sim/index.js'
import { A, B, MODELS_UNDER_TEST, PAGE, clean, fingerprint, hx, mustPfn, rejects, setup } from './fixtures/helpers.js'

type VmaStep = Extract<RmapStep, { step: 'vma' }>
const vmaSteps = (tr: RmapStep[] | undefined): VmaStep[] => (tr ?? []).filter((x): x is VmaStep => x.step === 'vma')

for (const kernel of MODELS_UNDER_TEST) {
  t.test(`[${kernel}] rmap_walk_anon with trace: page, object, vma (formula, levels), done`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 4 })
    s.write({ pid, addr: A + 2 * PAGE })
    const pfn = mustPfn(s, pid, A + 2 * PAGE)
    const before = fingerprint(s)
    const r = s.rmap(pfn, true)
    t.equal(fingerprint(s), before, 'a walk changes nothing')
    t.equal(r.pfn, pfn)
    t.equal(r.kind, 'anon')
    t.equal(r.model, kernel)
    t.same(r.mappings.map((m) => [m.pid, m.addr, m.pte.pfn]), [[pid, A + 2 * PAGE, pfn]])
    const tr = r.trace ?? []
    t.same(tr.map((x) => x.step), ['page', 'object', 'vma', 'done'])
    const page = tr[0]
    if (page.step === 'page') {
      t.equal(page.mapping.anon, true)
      t.equal(page.mapping.kind, 'anon_vma')
      t.equal(BigInt(page.mapping.raw) & 1n, 1n, 'bit 0 (PAGE_MAPPING_ANON) set')
      t.equal(page.index, A / PAGE + 2)
      t.match(page.note, /PAGE_MAPPING_ANON/)
    }
    const obj = tr[1]
    if (obj.step === 'object') {
      t.equal(obj.kind, 'anon_vma')
      t.equal(obj.id, s.processInfo(pid).vmaList[0].anonVma)
      t.equal(obj.structure, s.model.anonName)
      t.same(obj.query, { first: A / PAGE + 2, last: A / PAGE + 2 })
      t.equal(obj.vmas, 1)
    }
    const v = tr[2] as VmaStep
    t.equal(v.pid, pid)
    t.equal(v.start, A)
    t.equal(v.pgoff, A / PAGE)
    t.equal(v.addr, A + 2 * PAGE)
    t.equal(v.formula, `vm_start + (index - vm_pgoff) * PAGE_SIZE = ${hx(A)} + (${A / PAGE + 2} - ${A / PAGE}) * 4096 = ${hx(A + 2 * PAGE)}`)
    t.same(v.levels.map((l) => l.level), ['pgd', 'pud', 'pmd', 'pte'])
    t.equal(v.levels[3].pte?.pfn, pfn, 'the PTE level holds the PFN')
    t.equal(v.levels[0].next, v.levels[1].tablePfn, 'each level points at the next table')
    t.equal(v.outcome, 'matched')
    const done = tr[3]
    if (done.step === 'done') t.equal(done.matched, s.frame(pfn).mapcount, 'matched = mapcount')
    t.equal(s.rmap(pfn).trace, undefined, 'no trace unless asked')
    clean(t, s)
  })

  t.test(`[${kernel}] rmap_walk_file with trace: the address_space object and every mapping VMA`, async (t) => {
    const { s, pid } = setup(kernel)
    s.createFile({ name: 'f', pages: 8 })
    s.mmap({ pid, addr: A, pages: 4, file: 'f', offset: 2, shared: true })
    const q = s.spawn({ name: 'q' }).pid
    s.mmap({ pid: q, addr: B, pages: 2, file: 'f', offset: 3 })
    s.read({ pid, addr: A + 2 * PAGE }) // index 4
    s.read({ pid: q, addr: B + PAGE }) // index 4
    const pfn = mustPfn(s, pid, A + 2 * PAGE)
    t.equal(mustPfn(s, q, B + PAGE), pfn)
    const r = s.rmap(pfn, true)
    t.equal(r.kind, 'file')
    t.same(r.mappings.map((m) => [m.pid, m.addr]), [[pid, A + 2 * PAGE], [q, B + PAGE]])
    const tr = r.trace ?? []
    const page = tr[0]
    if (page.step === 'page') {
      t.equal(page.mapping.anon, false)
      t.equal(page.mapping.kind, 'address_space')
      t.equal(page.mapping.name, 'f')
      t.equal(BigInt(page.mapping.raw) & 1n, 0n, 'bit 0 clear: an address_space')
      t.equal(page.index, 4)
    }
    const obj = tr[1]
    if (obj.step === 'object') {
      t.equal(obj.kind, 'address_space')
      t.equal(obj.name, 'f')
      t.equal(obj.structure, s.model.immapName)
      t.equal(obj.vmas, 2)
    }
    const steps = vmaSteps(tr)
    t.same(steps.map((x) => x.outcome), ['matched', 'matched'])
    const qs = steps.find((x) => x.pid === q) as VmaStep
    t.equal(qs.formula, `vm_start + (index - vm_pgoff) * PAGE_SIZE = ${hx(B)} + (4 - 3) * 4096 = ${hx(B + PAGE)}`)
    clean(t, s)
  })

  t.test(`[${kernel}] rmap_walk: a VMA whose PTE maps another frame is 'other_pfn' (after COW)`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.write({ pid, addr: A })
    const orig = mustPfn(s, pid, A)
    const child = s.fork({ pid }).pid
    s.write({ pid: child, addr: A })
    const steps = vmaSteps(s.rmap(orig, true).trace)
    t.equal(steps.find((x) => x.pid === child)?.outcome, 'other_pfn')
    t.equal(steps.find((x) => x.pid === pid)?.outcome, 'matched')
    t.same(s.rmap(orig).mappings.map((m) => m.pid), [pid])
    clean(t, s)
  })

  t.test(`[${kernel}] rmap_walk: a VMA whose PTE is a swap entry is 'not_present'`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.write({ pid, addr: A })
    const child = s.fork({ pid }).pid
    const p = mustPfn(s, pid, A)
    while (!s.unmap({ pfn: p }).success) { /* 2.6.11 retries */ }
    const r = s.read({ pid, addr: A })
    const steps = vmaSteps(s.rmap(r.pfn as number, true).trace)
    t.equal(steps.find((x) => x.pid === child)?.outcome, 'not_present')
    t.equal(steps.find((x) => x.pid === pid)?.outcome, 'matched')
    clean(t, s)
  })

  t.test(`[${kernel}] rmap_walk: a mapping VMA with no page table there is 'no_page_table', an empty PTE 'pte_none'`, async (t) => {
    const { s, pid } = setup(kernel)
    s.createFile({ name: 'f', pages: 4 })
    s.mmap({ pid, addr: A, pages: 4, file: 'f' })
    const q = s.spawn({ name: 'q' }).pid
    s.mmap({ pid: q, addr: B, pages: 4, file: 'f' })
    const r = s.spawn({ name: 'r' }).pid
    s.mmap({ pid: r, addr: B, pages: 4, file: 'f' })
    s.read({ pid, addr: A })
    s.read({ pid: r, addr: B + PAGE })
    const steps = vmaSteps(s.rmap(mustPfn(s, pid, A), true).trace)
    t.equal(steps.find((x) => x.pid === q)?.outcome, 'no_page_table')
    t.equal(steps.find((x) => x.pid === q)?.levels.length, 1, 'the walk stops at the empty pgd entry')
    t.equal(steps.find((x) => x.pid === r)?.outcome, 'pte_none')
    clean(t, s)
  })

  t.test(`[${kernel}] rmap_walk: the zero page, a page-table page and a free frame have nothing to walk`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.read({ pid, addr: A })
    const z = s.rmap(ZERO_PFN, true)
    t.equal(z.kind, 'zero')
    t.same(z.mappings, [])
    t.same(z.trace?.map((x) => x.step), ['page', 'object', 'done'])
    const zp = z.trace?.[0]
    if (zp?.step === 'page') t.match(zp.note, /zero page/)
    const zo = z.trace?.[1]
    if (zo?.step === 'object') t.equal(zo.kind, 'none')
    const table = s.translate(pid, A).levels[3].tablePfn
    const pt = s.rmap(table, true)
    t.equal(pt.kind, 'pagetable')
    t.same(pt.mappings, [])
    s.write({ pid, addr: A })
    const p = mustPfn(s, pid, A)
    s.munmap({ pid, addr: A, pages: 1 })
    const fr = s.rmap(p, true)
    t.equal(fr.kind, 'free')
    t.same(fr.mappings, [])
    const fp = fr.trace?.[0]
    if (fp?.step === 'page') t.match(fp.note, /NULL/)
    rejects(t, s, () => s.rmap(0x10), { name: 'NotFoundError', code: 'not_found', errno: 'ENOENT' }, 'PFN below the first frame')
    rejects(t, s, () => s.rmap(1e9), { name: 'NotFoundError', code: 'not_found' }, 'PFN never handed out')
    rejects(t, s, () => s.rmap(ZERO_PFN + 0.5), { name: 'NotFoundError', code: 'not_found' }, 'fractional PFN')
    clean(t, s)
  })

  t.test(`[${kernel}] rmap: mappings are sorted by pid then address`, async (t) => {
    const { s, pid } = setup(kernel)
    s.createFile({ name: 'f', pages: 1 })
    const q = s.spawn({ name: 'q' }).pid
    s.mmap({ pid: q, addr: B, pages: 1, file: 'f' })
    s.mmap({ pid: q, addr: A, pages: 1, file: 'f' })
    s.mmap({ pid, addr: B, pages: 1, file: 'f' })
    s.read({ pid: q, addr: B })
    s.read({ pid, addr: B })
    s.read({ pid: q, addr: A })
    const r = s.rmap(mustPfn(s, q, A))
    t.same(r.mappings.map((m) => [m.pid, m.addr]), [[pid, B], [q, A], [q, B]])
    clean(t, s)
  })
}

t.test('rmap_walk_anon (2.6.11): every VMA on the list is visited; a split piece not holding the index is \'outside_vma\'', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.mmap({ pid, addr: A, pages: 6 })
  s.write({ pid, addr: A })
  s.write({ pid, addr: A + 5 * PAGE })
  s.munmap({ pid, addr: A + 2 * PAGE, pages: 2 })
  const low = mustPfn(s, pid, A)
  const steps = vmaSteps(s.rmap(low, true).trace)
  t.equal(steps.length, 2, 'both pieces are on the list')
  const upper = steps.find((x) => x.start === A + 4 * PAGE) as VmaStep
  t.equal(upper.outcome, 'outside_vma')
  t.equal(upper.addr, A, 'the formula lands below vm_start')
  t.same(upper.levels, [], 'no page-table walk')
  t.match(upper.note, /outside/)
  t.same(s.rmap(low).mappings.map((m) => m.addr), [A])
  clean(t, s)
})

t.test('rmap_walk_anon (6.18): the interval tree is queried at the index, so no \'outside_vma\' visit happens', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 6 })
  s.write({ pid, addr: A })
  s.write({ pid, addr: A + 5 * PAGE })
  s.munmap({ pid, addr: A + 2 * PAGE, pages: 2 })
  const steps = vmaSteps(s.rmap(mustPfn(s, pid, A), true).trace)
  t.same(steps.map((x) => [x.start, x.outcome]), [[A, 'matched']])
  const obj = s.rmap(mustPfn(s, pid, A), true).trace?.[1]
  if (obj?.step === 'object') t.match(obj.note, /root/)
  clean(t, s)
})

t.test('rmap_walk (2.6.11): the walk of a page moved by mremap in one family member visits the other at the old address', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  const p = mustPfn(s, pid, A)
  const child = s.fork({ pid }).pid
  s.mremap({ pid: child, addr: A, pages: 1, newPages: 1, newAddr: B })
  const steps = vmaSteps(s.rmap(p, true).trace)
  t.same(steps.map((x) => [x.pid, x.addr, x.outcome]).sort(), [[pid, A, 'matched'], [child, B, 'matched']].sort())
  clean(t, s)
})
