import t from 'tap'
import { Simulator, ZERO_PFN, PFN_BASE, decodePte, hex, type SimEvent } from '../../../src/sim/index.js'
import { A, B, MODELS_UNDER_TEST, PAGE, clean, mustPfn, rejects, setup, writeAll } from './fixtures/helpers.js'

for (const kernel of MODELS_UNDER_TEST) {
  const bias = kernel === '2.6.11' ? -1 : 0

  t.test(`[${kernel}] struct page view: _count ${bias === -1 ? 'biased by -1' : 'unbiased'}, _mapcount raw, mapping a tagged pointer (bit 0 for anon)`, async (t) => {
    const { s, pid } = setup(kernel)
    s.createFile({ name: 'f', pages: 2 })
    s.mmap({ pid, addr: A, pages: 1 })
    s.mmap({ pid, addr: B, pages: 2, file: 'f' })
    s.write({ pid, addr: A })
    s.read({ pid, addr: B })
    const anon = s.frame(mustPfn(s, pid, A))
    t.equal(anon.countBias, bias)
    t.equal(anon.refcount, 1)
    t.equal(anon._count, 1 + bias, 'page_count 1')
    t.equal(anon.mapcount, 1)
    t.equal(anon._mapcount, 0, '_mapcount = mapcount - 1')
    t.equal(anon.mapping.anon, true)
    t.equal(anon.mapping.kind, 'anon_vma')
    t.equal(anon.mapping.live, true)
    t.match(anon.mapping.raw, /^0x[0-9a-f]+$/)
    t.equal(BigInt(anon.mapping.raw) & 1n, 1n, 'PAGE_MAPPING_ANON')
    if (kernel === '6.18') t.ok(anon.flags.includes('uptodate') && anon.flags.includes('lru') && anon.flags.includes('swapbacked'))
    else {
      // 2.6.11 include/linux/page-flags.h: PG_referenced 2, PG_uptodate 3, PG_lru 5, PG_active 6; no PG_swapbacked.
      t.same(anon.flags, ['referenced', 'uptodate', 'lru', 'active'], 'do_anonymous_page: lru_cache_add_active + SetPageReferenced')
      t.equal(anon.flagsRaw, (1 << 2) | (1 << 3) | (1 << 5) | (1 << 6), 'in 2.6.11\'s bit numbers')
    }
    t.equal(anon.swapSlot, null)
    t.equal(typeof anon.flagsRaw, 'number')
    const file = s.frame(mustPfn(s, pid, B))
    t.equal(file.refcount, 2)
    t.equal(file._count, 2 + bias)
    t.equal(file._mapcount, 0)
    t.equal(file.mapping.kind, 'address_space')
    t.equal(file.mapping.name, 'f')
    t.equal(BigInt(file.mapping.raw) & 1n, 0n)
    t.not(file.mapping.raw, anon.mapping.raw)
    // Read the second page in by mapping it elsewhere and unmapping: cached, unmapped.
    s.read({ pid, addr: B + PAGE })
    const cached = mustPfn(s, pid, B + PAGE)
    s.munmap({ pid, addr: B + PAGE, pages: 1 })
    const c = s.frame(cached)
    t.equal(c._mapcount, -1, '-1: mapped by no PTE')
    t.equal(c.mapcount, 0)
    t.equal(c.refcount, 1, 'the page cache reference')
    t.equal(c._count, 1 + bias)
    t.equal(c.index, 1, 'unmapping does not clear index')
    t.equal(c.mapping.name, 'f', 'nor mapping')
    const zero = s.frame(ZERO_PFN)
    t.equal(zero.kind, 'zero')
    t.ok(zero.flags.includes('reserved'))
    const table = s.frame(s.translate(pid, A).levels[0].tablePfn)
    t.equal(table.kind, kernel === '6.18' ? 'pagetable' : 'kernel', '2.6.11 has no page-table page type')
    t.equal(table.flags.includes('table'), kernel === '6.18')
    clean(t, s)
  })

  t.test(`[${kernel}] frame view of a freed frame: everything reset`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.write({ pid, addr: A })
    const p = mustPfn(s, pid, A)
    s.munmap({ pid, addr: A, pages: 1 })
    const f = s.frame(p)
    t.equal(f.kind, 'free')
    t.same(f.flags, [])
    t.equal(f.refcount, 0)
    t.equal(f._mapcount, -1)
    t.same(f.mapping, { raw: '0x0', anon: false, kind: 'none', id: null, live: false })
  })

  t.test(`[${kernel}] frames(): filters by kind, mapped and file, and pages with after/limit`, async (t) => {
    const { s, pid } = setup(kernel)
    s.createFile({ name: 'f', pages: 3 })
    s.createFile({ name: 'g', pages: 1 })
    s.mmap({ pid, addr: A, pages: 3 })
    s.mmap({ pid, addr: B, pages: 3, file: 'f' })
    s.mmap({ pid, addr: B + 0x100000, pages: 1, file: 'g' })
    writeAll(s, pid, A, 3)
    for (let i = 0; i < 3; i++) s.read({ pid, addr: B + i * PAGE })
    s.read({ pid, addr: B + 0x100000 })
    s.munmap({ pid, addr: B + 2 * PAGE, pages: 1 })
    t.equal(s.frames({ kind: 'anon' }).frames.length, 3)
    t.ok(s.frames({ kind: 'anon' }).frames.every((f) => f.kind === 'anon'))
    t.equal(s.frames({ kind: 'file' }).frames.length, 4)
    t.equal(s.frames({ file: 'f' }).frames.length, 3)
    t.equal(s.frames({ file: 'f', mapped: true }).frames.length, 2)
    t.equal(s.frames({ file: 'f', mapped: false }).frames.length, 1)
    t.equal(s.frames({ kind: kernel === '6.18' ? 'pagetable' : 'kernel' }).frames.length, s.processInfo(pid).pageTablePages)
    t.equal(s.frames({ kind: 'zero' }).frames[0]?.pfn, ZERO_PFN)
    const all = s.frames().frames
    t.ok(all.every((f) => f.kind !== 'free'), 'free frames are skipped by default')
    const page1 = s.frames({ limit: 2 })
    t.equal(page1.frames.length, 2)
    t.equal(page1.next, page1.frames[1].pfn)
    const page2 = s.frames({ limit: 2, after: page1.next as number })
    t.ok(page2.frames[0].pfn > (page1.next as number))
    t.equal(s.frames({ limit: 1000 }).next, null)
    rejects(t, s, () => s.frames({ file: 'nope' }), { name: 'NotFoundError', code: 'not_found' }, 'unknown file')
  })

  t.test(`[${kernel}] vma, process and file views`, async (t) => {
    const { s, pid } = setup(kernel)
    s.createFile({ name: 'lib', pages: 4 })
    const v = s.mmap({ pid, addr: A, pages: 2, file: 'lib', offset: 1, prot: 'rx' })
    t.same({ ...v, id: 0 }, {
      id: 0,
      start: A,
      end: A + 2 * PAGE,
      pages: 2,
      pgoff: 1,
      prot: 'rx',
      flags: ['read', 'exec', 'mayread', 'maywrite', 'mayexec'],
      flagsRaw: v.flagsRaw,
      shared: false,
      file: 'lib',
      fileKind: 'file',
      anonVma: null,
      anonVmaChain: []
    })
    s.exec({ pid, addr: A })
    const info = s.processInfo(pid)
    t.equal(info.vmas, 1)
    t.equal(info.vmaList.length, 1)
    t.same(info.rss, kernel === '6.18' ? { anon: 0, file: 1, shmem: 0, swap: 0 } : { rss: 1, anon_rss: 0 })
    t.same(s.files(), [{ name: 'lib', kind: 'file', pages: 4, cached: 1 }])
    const fi = s.fileInfo('lib')
    t.same(fi.cache, [{ index: 1, pfn: mustPfn(s, pid, A), mapcount: 1, dirty: false }])
    t.same(fi.immap, [{ pid, vmaId: v.id, start: A, end: A + 2 * PAGE, pgoff: 1, shared: false }])
    s.createFile({ name: 'a', pages: 1 })
    t.same(s.files().map((f) => f.name), ['a', 'lib'], 'sorted by name')
    rejects(t, s, () => s.fileInfo('zz'), { name: 'NotFoundError', code: 'not_found', errno: 'ENOENT' }, 'unknown file')
    rejects(t, s, () => s.processInfo(77), { name: 'NotFoundError', code: 'not_found', errno: 'ESRCH' }, 'unknown pid')
  })

  t.test(`[${kernel}] translate: the four levels of the walk, the PFN and the offset`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    const none = s.translate(pid, A + 5)
    t.equal(none.pfn, null)
    t.equal(none.levels.length, 1, 'only the pgd entry, empty')
    t.equal(none.levels[0].raw, '0x0')
    t.equal(none.vmaId, s.processInfo(pid).vmaList[0].id)
    s.write({ pid, addr: A })
    const tr = s.translate(pid, A + 5)
    t.equal(tr.offset, 5)
    t.same(tr.levels.map((l) => l.level), ['pgd', 'pud', 'pmd', 'pte'])
    t.equal(tr.levels[0].tablePfn, s.translate(pid, B).levels[0].tablePfn, 'one pgd per process')
    t.equal(tr.levels[0].next, tr.levels[1].tablePfn, 'each entry points at the next table')
    t.equal(tr.levels[1].next, tr.levels[2].tablePfn)
    t.equal(tr.levels[2].next, tr.levels[3].tablePfn)
    t.equal(tr.levels[2].index, (A / (2 * 1024 * 1024)) % 512)
    t.equal(tr.levels[3].index, (A / PAGE) % 512)
    t.equal(tr.levels[3].pte?.pfn, tr.pfn)
    t.equal(tr.levels[0].raw, hex(tr.levels[1].tablePfn * PAGE + 0x67), '_PAGE_TABLE bits')
    const unmapped = s.translate(pid, B)
    t.equal(unmapped.vmaId, null)
    rejects(t, s, () => s.translate(pid, -5), { name: 'InvalidArgumentError', code: 'invalid_argument', errno: 'EFAULT' }, 'negative address')
    rejects(t, s, () => s.translate(pid, 2 ** 48), { name: 'InvalidArgumentError', code: 'invalid_argument', errno: 'EFAULT' }, 'non-canonical')
  })

  t.test(`[${kernel}] decodePte: present entries in x86-64 bit positions, NX printed in bit 63; swap and protnone entries`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 3 })
    writeAll(s, pid, A, 3)
    const e = s.translate(pid, A).levels[3].pte
    t.equal(e?.kind, 'present')
    t.equal(e?.present, true)
    t.equal(e?.user, true)
    t.equal(e?.noExec, true)
    t.equal(e?.special, kernel === '6.18' ? false : undefined, '2.6.11 has no _PAGE_SPECIAL')
    const raw = BigInt(e?.raw ?? '0')
    t.equal(raw >> 63n, 1n, 'NX is bit 63')
    t.equal((raw >> 12n) & ((1n << 40n) - 1n), BigInt(e?.pfn ?? 0), 'PFN in bits 12+')
    t.equal(raw & 0x67n, 0x67n, 'present, rw, user, accessed, dirty')
    s.mprotect({ pid, addr: A + PAGE, pages: 1, prot: 'none' })
    const pn = s.translate(pid, A + PAGE).levels[3].pte
    t.equal(pn?.kind, 'protnone')
    t.equal(pn?.present, false)
    // _PAGE_PROTNONE: 2.6.11 include/asm-x86_64/pgtable.h 0x080; modern _PAGE_GLOBAL, 0x100.
    t.equal(BigInt(pn?.raw ?? '0') & 0x181n, kernel === '6.18' ? 0x100n : 0x080n, 'the PROT_NONE bit, not present')
    const p2 = mustPfn(s, pid, A + 2 * PAGE)
    s.referenced({ pfn: p2 })
    s.unmap({ pfn: p2 })
    const sw = s.translate(pid, A + 2 * PAGE).levels[3].pte
    t.equal(sw?.kind, 'swap')
    t.type(sw?.swapOffset, 'number')
    if (kernel === '2.6.11') t.equal(sw?.raw, '0x' + ((sw?.swapOffset ?? 0) * 256).toString(16), '__swp_entry(0, offset) = offset << 8')
    t.same(decodePte(0), { kind: 'none', raw: '0x0' })
    const ptes = s.ptes(pid)
    t.same(ptes.entries.map((x) => [x.addr, x.pte.kind]), [[A, 'present'], [A + PAGE, 'protnone'], [A + 2 * PAGE, 'swap']])
    t.equal(ptes.next, null)
    const lim = s.ptes(pid, 0, undefined, 2)
    t.equal(lim.entries.length, 2)
    t.equal(lim.next, A + 2 * PAGE)
    t.same(s.ptes(pid, A + PAGE, A + 2 * PAGE).entries.map((x) => x.addr), [A + PAGE])
    clean(t, s)
  })

  t.test(`[${kernel}] stats: counts of processes, VMAs, files, anon_vmas, frames by kind, swap`, async (t) => {
    const s = new Simulator({ version: kernel, limits: { maxFrames: 1000 } })
    const pid = s.spawn({}).pid
    s.createFile({ name: 'f', pages: 1 })
    s.mmap({ pid, addr: A, pages: 2 })
    s.mmap({ pid, addr: B, pages: 1, file: 'f' })
    writeAll(s, pid, A, 2)
    s.read({ pid, addr: B })
    const p = mustPfn(s, pid, A)
    s.referenced({ pfn: p })
    s.unmap({ pfn: p })
    const st = s.stats()
    t.equal(st.kernel, kernel)
    t.equal(st.processes, 1)
    t.equal(st.vmas, 2)
    t.equal(st.files, 1)
    t.equal(st.anonVmas, 1)
    t.same(st.framesByKind, { [kernel === '6.18' ? 'pagetable' : 'kernel']: 5, anon: 1, file: 1 }, 'pgd, pud, pmd and two PTE tables (A and B are in different 2 MiB regions)')
    t.equal(st.framesInUse, 7)
    t.equal(st.swapSlotsUsed, 1)
    t.ok(st.events >= 0)
    t.equal(st.limits.maxFrames, 1000)
    t.equal(s.version, kernel)
    t.equal(s.model.version, kernel)
    t.equal(PFN_BASE, ZERO_PFN)
  })
}

t.test('events: every VMA change is reported (created, split, merged, changed, moved, removed) with the op as cause', async (t) => {
  const { s, pid } = setup('6.18')
  const ev: SimEvent[] = []
  s.subscribe((e) => { ev.push(e) })
  s.mmap({ pid, addr: A, pages: 4 })
  s.write({ pid, addr: A })
  s.mprotect({ pid, addr: A, pages: 1, prot: 'r' })
  s.mprotect({ pid, addr: A, pages: 1, prot: 'rw' })
  s.mremap({ pid, addr: A, pages: 4, newPages: 4, newAddr: B })
  s.mremap({ pid, addr: B, pages: 4, newPages: 6 })
  s.munmap({ pid, addr: B, pages: 6 })
  s.exit({ pid })
  const types = new Set(ev.map((e) => e.type))
  for (const want of ['vma.created', 'vma.split', 'vma.merged', 'vma.changed', 'vma.moved', 'vma.removed', 'anon_vma.created', 'anon_vma.freed', 'pte.changed', 'pte.cleared', 'frame.freed'] as const) {
    t.ok(types.has(want), want)
  }
  const moved = ev.find((e) => e.type === 'vma.moved')
  t.equal(moved?.cause.op, 'mremap')
  t.equal(moved?.other?.start, A, 'the old place')
  t.equal(moved?.vma?.start, B)
  const split = ev.find((e) => e.type === 'vma.split')
  t.equal(split?.cause.op, 'mprotect')
  t.ok(ev.filter((e) => e.type === 'pte.changed').some((e) => e.cause.op === 'mprotect'), 'change_pte_range events')
})

t.test('Simulator: unknown kernel model is an InvalidArgumentError; the default model is 2.6.11', async (t) => {
  t.throws(() => new Simulator({ version: '3.0' as '6.18' }), { name: 'InvalidArgumentError', code: 'invalid_argument' })
  t.equal(new Simulator().version, '2.6.11')
})
