import t from 'tap'
import { MMAP_BASE, Simulator, decodePte, type KernelVersion, type SimEvent } from '../../../src/sim/index.js'
import { PG } from '../../../src/sim/frames.js'
import { A, B, C, MODELS_UNDER_TEST, PAGE, clean, taskSizeOf, mustPfn, pteAt, setup, stateOf, vmaRanges, writeAll } from './fixtures/helpers.js'

const BASE_2611 = 0x2aaaaaaab000

t.test('arch_get_unmapped_area_topdown (6.18): when nothing fits below mmap_base it falls back to the bottom-up search', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: 0x10000, pages: (MMAP_BASE - 0x10000) / PAGE, prot: 'none' })
  s.createFile({ name: 'f', pages: 1 })
  const v = s.mmap({ pid, pages: 1, file: 'f' })
  t.equal(v.start, MMAP_BASE, 'the first free place above TASK_SIZE/3')
  clean(t, s)
})

t.test('arch_get_unmapped_area (2.6.11): a failed search from free_area_cache restarts once from TASK_UNMAPPED_BASE', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.createFile({ name: 'f', pages: 4 })
  const a = s.mmap({ pid, pages: 1, file: 'f' })
  s.mmap({ pid, pages: 1, file: 'f', offset: 1, prot: 'r' }) // a different prot: no merge
  t.equal(a.start, BASE_2611)
  s.munmap({ pid, addr: a.start, pages: 1 }) // free_area_cache = BASE
  const c = s.mmap({ pid, pages: 2, file: 'f', offset: 2, prot: 'rx' }) // does not fit the hole: cache moves past it
  t.equal(c.start, BASE_2611 + 2 * PAGE)
  const top = c.end
  s.mmap({ pid, addr: top, pages: (taskSizeOf('2.6.11') - top) / PAGE, prot: 'none' }) // nothing free above the cache
  const d = s.mmap({ pid, pages: 1, file: 'f', offset: 3 })
  t.equal(d.start, BASE_2611, 'found by the restart from the base')
  t.throws(() => s.mmap({ pid, pages: 1, file: 'f' }), { name: 'LimitError', code: 'limit' }, 'nothing anywhere: ENOMEM')
  clean(t, s)
})

for (const kernel of MODELS_UNDER_TEST) {
  t.test(`[${kernel}] vma_merge_existing_range / dup_anon_vma: mprotect merging a faulted VMA into a neighbour without anon_vma gives it the anon_vma`, async (t) => {
    const { s, pid } = setup(kernel)
    // Both VMAs are private and writable, so both carry VM_ACCOUNT; only PROT_EXEC keeps them apart.
    s.mmap({ pid, addr: A, pages: 2, prot: 'rw' })
    s.mmap({ pid, addr: A + 2 * PAGE, pages: 2, prot: 'rwx' })
    s.read({ pid, addr: A })
    writeAll(s, pid, A + 2 * PAGE, 2)
    const p = mustPfn(s, pid, A + 3 * PAGE)
    t.equal(s.processInfo(pid).vmaList[0].anonVma, null)
    s.mprotect({ pid, addr: A + 2 * PAGE, pages: 2, prot: 'rw' })
    t.same(vmaRanges(s, pid), [[A, A + 4 * PAGE, A / PAGE]])
    const v = s.processInfo(pid).vmaList[0]
    t.not(v.anonVma, null, 'the merged VMA carries the anon_vma')
    t.equal(s.frame(p).mapping.id, v.anonVma)
    t.same(s.rmap(p).mappings.map((m) => m.addr), [A + 3 * PAGE], 'the page is still found')
    clean(t, s)
  })

  // Page migration came in 2.6.16: 6.18 only (2.6.11 refuses it, linux-2611.test.ts).
  if (kernel === '6.18') {
    t.test(`[${kernel}] try_to_migrate: every mapping PTE becomes a migration entry before the new frame is mapped`, async (t) => {
      const { s, pid } = setup(kernel)
      s.mmap({ pid, addr: A, pages: 1 })
      s.write({ pid, addr: A })
      const p = mustPfn(s, pid, A)
      const child = s.fork({ pid }).pid
      const seen: SimEvent[] = []
      s.subscribe((e) => { if (e.type === 'pte.changed') seen.push(e) })
      const m = s.migrate({ pfn: p })
      const mig = seen.filter((e) => decodePte(e.after as number).kind === 'migration')
      t.equal(mig.length, 2, 'one migration entry per mapping')
      t.same(mig.map((e) => decodePte(e.after as number).pfn), [p, p], 'pointing at the old frame')
      t.same(mig.map((e) => decodePte(e.after as number).writable), [false, false])
      const restored = seen.filter((e) => decodePte(e.before as number).kind === 'migration')
      t.same(restored.map((e) => decodePte(e.after as number).pfn), [m.newPfn, m.newPfn], 'then replaced by PTEs to the new frame')
      t.same(restored.map((e) => e.pid).sort(), [pid, child].sort())
      clean(t, s)
    })
  }

  t.test(`[${kernel}] copy_page_range: the same result whether or not anyone listens to events`, async (t) => {
    const build = (listen: boolean): Simulator => {
      const s = new Simulator({ version: kernel })
      if (listen) s.subscribe(() => {})
      const pid = s.spawn({}).pid
      s.mmap({ pid, addr: A, pages: 4 })
      s.read({ pid, addr: A }) // a zero-page PTE (2.6.11 copies it verbatim)
      writeAll(s, pid, A + PAGE, 2)
      const p = mustPfn(s, pid, A + 2 * PAGE)
      if (!s.unmap({ pfn: p }).success) s.unmap({ pfn: p }) // an (exclusive, in 6.18) swap entry
      s.fork({ pid })
      return s
    }
    const quiet = build(false)
    const loud = build(true)
    t.same(JSON.parse(stateOf(loud)).procs, JSON.parse(stateOf(quiet)).procs)
    t.equal(pteAt(loud, 2, A + 2 * PAGE).kind, 'swap')
    t.equal(pteAt(loud, 1, A + 2 * PAGE).exclusive, kernel === '6.18' ? false : undefined)
    t.equal(pteAt(loud, 2, A).kind, 'present', 'the VMA has an anon_vma, so even 6.18 copies its zero-page PTE')
    clean(t, loud)
  })

  t.test(`[${kernel}] get_swap_page: the lowest free swap slot is reused first`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 3 })
    writeAll(s, pid, A, 3)
    const slots: number[] = []
    for (let i = 0; i < 3; i++) {
      const p = mustPfn(s, pid, A + i * PAGE)
      s.referenced({ pfn: p })
      slots.push(s.unmap({ pfn: p }).swapSlot as number)
    }
    t.same(slots, [1, 2, 3], 'slot 0 is the swap header')
    s.madvise({ pid, addr: A + 2 * PAGE, pages: 1, advice: 'dontneed' })
    s.madvise({ pid, addr: A, pages: 1, advice: 'dontneed' })
    s.write({ pid, addr: A + PAGE }) // swap-in; the write frees slot 2 in 6.18, keeps it cached in 2.6.11
    s.write({ pid, addr: A })
    const p = mustPfn(s, pid, A)
    s.referenced({ pfn: p })
    t.equal(s.unmap({ pfn: p }).swapSlot, 1, 'the lowest freed slot')
    clean(t, s)
  })

  t.test(`[${kernel}] alloc_pages (the simulator's deterministic allocator): new PFNs are handed out in order; freed ones only once the limit is reached, oldest first`, async (t) => {
    const s = new Simulator({ version: kernel, limits: { maxFrames: 9 } })
    const pid = s.spawn({}).pid
    s.mmap({ pid, addr: A, pages: 8 })
    writeAll(s, pid, A, 3) // pgd + 3 tables + 3 pages = 7 frames
    const first = [0, 1, 2].map((i) => mustPfn(s, pid, A + i * PAGE))
    t.same(first, [first[0], first[0] + 1, first[0] + 2])
    s.madvise({ pid, addr: A + PAGE, pages: 1, advice: 'dontneed' })
    s.madvise({ pid, addr: A, pages: 1, advice: 'dontneed' })
    s.write({ pid, addr: A + 3 * PAGE })
    t.equal(mustPfn(s, pid, A + 3 * PAGE), first[2] + 1, 'a never-used PFN while there is one')
    s.write({ pid, addr: A + 4 * PAGE })
    t.equal(mustPfn(s, pid, A + 4 * PAGE), first[2] + 2, 'the last never-used PFN')
    s.write({ pid, addr: A + 5 * PAGE })
    t.equal(mustPfn(s, pid, A + 5 * PAGE), first[1], 'then the oldest freed')
    t.equal(s.stats().framesInUse, 8)
    // A fault reserves room for two frames up front (a private file COW reads the cache page and copies it).
    t.throws(() => s.write({ pid, addr: A + 6 * PAGE }), { name: 'LimitError' }, 'one free frame is not enough for a fault')
    clean(t, s)
  })
}

// ------------------------------------------------------------------ the invariant checker finds corruption

function corrupted (kernel: KernelVersion): { s: Simulator, pid: number, child: number, anon: number, file: number } {
  const s = new Simulator({ version: kernel })
  s.createFile({ name: 'f', pages: 2 })
  const pid = s.spawn({}).pid
  s.mmap({ pid, addr: A, pages: 2 })
  s.mmap({ pid, addr: B, pages: 2, file: 'f', shared: true })
  writeAll(s, pid, A, 2)
  s.read({ pid, addr: B })
  const child = s.fork({ pid }).pid
  return { s, pid, child, anon: mustPfn(s, pid, A), file: mustPfn(s, pid, B) }
}

for (const kernel of MODELS_UNDER_TEST) {
  t.test(`[${kernel}] check(): each kind of corruption is reported`, async (t) => {
    const expectViolation = (what: string, re: RegExp, corrupt: (x: ReturnType<typeof corrupted>) => void): void => {
      const x = corrupted(kernel)
      t.same(x.s.check().violations, [], `${what}: clean before`)
      corrupt(x)
      const r = x.s.check()
      t.equal(r.ok, false, `${what}: not ok`)
      t.ok(r.violations.some((v) => re.test(v)), `${what}: ${re} in ${JSON.stringify(r.violations)}`)
    }
    const k = (x: ReturnType<typeof corrupted>) => x.s.state
    const slot = (pfn: number) => pfn - 0x1000
    expectViolation('mapcount', /mapcount \d+ but \d+ PTE/, (x) => { k(x).frames.mapcountRaw[slot(x.anon)]++ })
    expectViolation('refcount', /refcount \d+, but its holders/, (x) => { k(x).frames.refcount[slot(x.anon)]++ })
    expectViolation('rss', /rss\.anon/, (x) => { k(x).processes.get(x.pid)!.rss.anon++ })
    expectViolation('PTE outside a VMA', /outside every VMA/, (x) => {
      const mm = k(x).processes.get(x.pid)!
      mm.pgtable.leafAlloc(C).ptes[0] = 0x1000 * 4096 + 0x25
    })
    expectViolation('a PTE to a free frame', /free or invalid PFN/, (x) => {
      const mm = k(x).processes.get(x.pid)!
      mm.pgtable.leaf(A)!.ptes[(A / PAGE) % 512] = (k(x).frames.pfnLimit + 5) * 4096 + 0x25
    })
    expectViolation('i_mmap keyed wrong', /i_mmap/, (x) => { k(x).processes.get(x.pid)!.vmas.find((v) => v.mapping !== null)!.pgoff += 1 })
    expectViolation('a leaked anonymous page', /leaked/, (x) => {
      for (const q of [x.pid, x.child]) {
        const mm = k(x).processes.get(q)!
        mm.pgtable.leaf(A)!.ptes[(A / PAGE) % 512] = 0
        mm.rss.anon--
      }
      k(x).frames.mapcountRaw[slot(x.anon)] = -1
    })
    expectViolation('a swap count without swap PTEs', /swap slot/, (x) => { k(x).swap.map.set(77, 1) })
    expectViolation('a page-table frame not marked', /PageTable/, (x) => {
      const pfn = k(x).processes.get(x.pid)!.pgtable.tablePfns()[1]
      k(x).frames.flags[slot(pfn)] &= ~PG.table
    })
    expectViolation('a page cache entry with the wrong index', /page cache/, (x) => { k(x).frames.index[slot(x.file)] += 1 })
    expectViolation('a walk that misses a mapping', /rmap walk/, (x) => {
      const v = k(x).processes.get(x.child)!.vmas[0]
      if (kernel === '2.6.11') v.anonVma!.vmas.splice(v.anonVma!.vmas.indexOf(v), 1)
      else for (const c of v.chain) if (c.node !== null) { c.anonVma.tree.remove(c.node); c.node = null }
    })
    expectViolation('a free frame with state left over', /free PFN/, (x) => {
      s2free(x)
    })
  })
}

/** Frees the child's copy of a page by hand but leaves its flags set. */
function s2free (x: ReturnType<typeof corrupted>): void {
  const s = x.s
  s.write({ pid: x.child, addr: A + PAGE })
  const p = mustPfn(s, x.child, A + PAGE)
  s.munmap({ pid: x.child, addr: A + PAGE, pages: 1 })
  s.state.frames.flags[p - 0x1000] = PG.dirty
}

t.test('check(): the PTE bits the checker reads are the same decodePte shows', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  t.equal(pteAt(s, pid, A).pfn, mustPfn(s, pid, A))
  const r = s.check()
  t.equal(r.ok, true)
  t.ok(r.checked.frames > 0)
  t.equal(r.checked.ptes, 1)
  t.equal(r.checked.walks, 1)
  t.equal(r.checked.vmas, 1)
  t.equal(r.checked.anonVmas, 1)
})
