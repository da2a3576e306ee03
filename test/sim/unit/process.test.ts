import t from 'tap'
import { Simulator, type SimEvent } from '../../../src/sim/index.js'
import { A, B, MODELS_UNDER_TEST, PAGE, clean, fingerprint, mustPfn, rejects, setup, writeAll } from './fixtures/helpers.js'

for (const kernel of MODELS_UNDER_TEST) {
  t.test(`[${kernel}] mm_init (spawn): a process starts with an empty mm and one pgd page`, async (t) => {
    const s = new Simulator({ version: kernel })
    const p = s.spawn({ name: 'init' })
    t.equal(p.pid, 1)
    t.equal(p.name, 'init')
    t.equal(p.parent, null)
    t.equal(p.vmas, 0)
    // mm_struct's counters: 2.6.11 rss and anon_rss; 6.18 rss_stat by type.
    t.same(p.rss, kernel === '6.18' ? { anon: 0, file: 0, shmem: 0, swap: 0 } : { rss: 0, anon_rss: 0 })
    t.equal(p.pageTablePages, 1, 'only the pgd')
    const st = s.stats()
    t.equal(st.framesInUse, 1)
    t.same(st.framesByKind, kernel === '6.18' ? { pagetable: 1 } : { kernel: 1 }, '2.6.11: a page table is a page the kernel keeps')
    const anonymous = s.spawn({})
    t.equal(anonymous.pid, 2)
    t.equal(anonymous.name, null)
    t.same(s.processes().map((x) => x.pid), [1, 2])
    t.equal(s.pidOf('init'), 1)
    clean(t, s)
  })

  t.test(`[${kernel}] exit_mmap: exit frees every frame, the page tables and the pgd; nothing leaks`, async (t) => {
    const { s, pid } = setup(kernel)
    s.createFile({ name: 'f', pages: 4 })
    s.mmap({ pid, addr: A, pages: 4 })
    s.mmap({ pid, addr: B, pages: 4, file: 'f', shared: true })
    writeAll(s, pid, A, 4)
    writeAll(s, pid, B, 2)
    s.read({ pid, addr: B + 3 * PAGE })
    const anon = mustPfn(s, pid, A)
    t.ok(s.stats().framesInUse > 1)
    s.exit({ pid })
    t.same(s.processes(), [])
    const st = s.stats()
    t.equal(st.framesByKind.pagetable, undefined, 'no page-table page left (pgd included)')
    t.equal(st.framesByKind.anon, undefined, 'anonymous pages freed')
    t.equal(st.framesByKind.file, 3, 'the page cache keeps the file pages')
    t.equal(st.framesInUse, 3)
    t.equal(st.anonVmas, 0, 'anon_vma freed with its last VMA')
    t.equal(st.vmas, 0)
    t.equal(s.frame(anon).kind, 'free')
    t.same(s.fileInfo('f').immap, [], 'i_mmap is empty')
    for (const c of s.fileInfo('f').cache) t.equal(c.mapcount, 0)
    t.equal(s.dropCaches(), 1, 'the clean cached page can be dropped')
    clean(t, s)
  })

  t.test(`[${kernel}] exit_mmap: parent and child both exit after COW; frames, anon_vmas and swap all go`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 8 })
    writeAll(s, pid, A, 8)
    const child = s.fork({ pid, child: 'c' }).pid
    writeAll(s, child, A, 4)
    const shared = mustPfn(s, pid, A + 6 * PAGE)
    // 2.6.11 refuses the first try while a PTE is young (and clears it); the second one succeeds.
    if (!s.unmap({ pfn: shared }).success) t.ok(s.unmap({ pfn: shared }).success, 'second try_to_unmap succeeds')
    t.ok(s.stats().swapSlotsUsed > 0, 'a page is in swap')
    s.exit({ pid })
    clean(t, s, 'clean with only the child left')
    s.exit({ pid: child })
    const st = s.stats()
    t.equal(st.framesInUse, 0, 'every frame freed')
    t.equal(st.anonVmas, 0)
    t.equal(st.swapSlotsUsed, 0, 'swap slots released')
    clean(t, s)
  })

  t.test(`[${kernel}] exit_mmap: a parent exiting leaves the child's mappings intact`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 2 })
    writeAll(s, pid, A, 2)
    const pfn = mustPfn(s, pid, A)
    const child = s.fork({ pid, child: 'c' }).pid
    t.equal(s.frame(pfn).mapcount, 2)
    s.exit({ pid })
    t.equal(s.frame(pfn).mapcount, 1)
    t.equal(mustPfn(s, child, A), pfn)
    t.same(s.rmap(pfn).mappings.map((m) => m.pid), [child], 'the walk finds only the child now')
    const w = s.write({ pid: child, addr: A })
    t.equal(w.path, 'cow_reuse', 'the survivor reuses the page (it is the only holder)')
    t.equal(w.pfn, pfn)
    clean(t, s)
  })

  t.test(`[${kernel}] exit_mmap: exiting the middle generation keeps grandparent and grandchild consistent`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 3 })
    writeAll(s, pid, A, 3)
    const mid = s.fork({ pid, child: 'mid' }).pid
    s.write({ pid: mid, addr: A })
    const leaf = s.fork({ pid: mid, child: 'leaf' }).pid
    s.exit({ pid: mid })
    clean(t, s)
    const pfn = mustPfn(s, pid, A + PAGE)
    t.same(s.rmap(pfn).mappings.map((m) => m.pid), [pid, leaf])
    s.write({ pid: leaf, addr: A + PAGE })
    s.write({ pid, addr: A + PAGE })
    clean(t, s)
    s.exit({ pid: leaf })
    s.exit({ pid })
    t.equal(s.stats().framesInUse, 0)
    t.equal(s.stats().anonVmas, 0)
  })

  t.test(`[${kernel}] dup_mmap (fork): the child copies every VMA and gets its own pgd`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 2, prot: 'r' })
    s.mmap({ pid, addr: B, pages: 2 })
    const c = s.fork({ pid, child: 'child' })
    t.equal(c.parent, pid)
    t.equal(c.name, 'child')
    t.equal(c.vmas, 2)
    const pv = s.processInfo(pid).vmaList
    const cv = s.processInfo(c.pid).vmaList
    t.same(cv.map((v) => [v.start, v.end, v.pgoff, v.prot, v.flagsRaw]), pv.map((v) => [v.start, v.end, v.pgoff, v.prot, v.flagsRaw]))
    t.not(cv[0].id, pv[0].id, 'new vm_area_structs')
    t.ok(c.pageTablePages >= 1)
    t.not(s.translate(c.pid, A).levels[0].tablePfn, s.translate(pid, A).levels[0].tablePfn, 'its own pgd')
    clean(t, s)
  })

  t.test(`[${kernel}] events: spawn, fork and exit are reported in order with their cause`, async (t) => {
    const s = new Simulator({ version: kernel })
    const seen: SimEvent[] = []
    const off = s.subscribe((e) => { seen.push(e) })
    s.tag = 'req-1'
    const pid = s.spawn({ name: 'a' }).pid
    s.mmap({ pid, addr: A, pages: 1 })
    s.write({ pid, addr: A })
    const child = s.fork({ pid }).pid
    s.exit({ pid: child })
    off()
    s.exit({ pid })
    const types = seen.map((e) => e.type)
    t.ok(types.includes('process.spawned'))
    t.ok(types.includes('process.forked'))
    t.ok(types.includes('process.exited'))
    t.ok(types.includes('vma.created'))
    t.ok(types.includes('pte.set'))
    t.ok(types.includes('frame.allocated'))
    t.ok(types.includes('anon_vma.created'))
    t.ok(types.includes('frame.freed'))
    t.ok(types.includes('pte.cleared'))
    t.ok(seen.every((e, i) => i === 0 || e.seq > seen[i - 1].seq), 'sequence numbers increase')
    t.ok(seen.every((e) => e.cause.tag === 'req-1'), 'every event carries the tag')
    const fault = seen.find((e) => e.type === 'pte.set' && e.cause.op === 'access')
    t.equal(fault?.cause.path, 'anon_alloc', 'the fault path is on the cause')
    t.equal(seen.filter((e) => e.type === 'process.exited').length, 1, 'unsubscribed before the second exit')
  })
}

t.test('fork/spawn: session process limit is a LimitError and changes nothing', async (t) => {
  const s = new Simulator({ version: '6.18', limits: { maxProcesses: 2 } })
  const pid = s.spawn({ name: 'a' }).pid
  s.mmap({ pid, addr: A, pages: 1 })
  s.write({ pid, addr: A })
  s.fork({ pid, child: 'b' })
  rejects(t, s, () => s.spawn({ name: 'c' }), { name: 'LimitError', code: 'limit', errno: 'ENOMEM' }, 'spawn over the limit')
  rejects(t, s, () => s.fork({ pid, child: 'c' }), { name: 'LimitError', code: 'limit', errno: 'ENOMEM' }, 'fork over the limit')
  clean(t, s)
})

t.test('handle_mm_fault: out of frames is a LimitError before anything changes', async (t) => {
  const s = new Simulator({ version: '6.18', limits: { maxFrames: 4 } })
  const pid = s.spawn({ name: 'a' }).pid
  s.mmap({ pid, addr: A, pages: 4 })
  const before = fingerprint(s)
  // pgd + pud + pmd + pte = 4 frames: no room for the page itself.
  rejects(t, s, () => s.write({ pid, addr: A }), { name: 'LimitError', code: 'limit' }, 'fault needing more frames')
  t.equal(fingerprint(s), before)
  clean(t, s)
})
