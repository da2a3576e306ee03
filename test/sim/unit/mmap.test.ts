import t from 'tap'
import { MMAP_BASE } from '../../../src/sim/index.js'
import { A, B, MODELS_UNDER_TEST, PAGE, clean, taskSizeOf, stateOf, mustPfn, rejects, setup, vmaRanges, writeAll } from './fixtures/helpers.js'

const MiB = 1024 * 1024
const TOP_618 = 0x7ffff7fff000
const BASE_2611 = 0x2aaaaaaab000

for (const kernel of MODELS_UNDER_TEST) {
  t.test(`[${kernel}] do_mmap: private anonymous mapping: vm_pgoff = addr >> PAGE_SHIFT, no anon_vma yet`, async (t) => {
    const { s, pid } = setup(kernel)
    const v = s.mmap({ pid, addr: A, pages: 3 })
    t.equal(v.start, A)
    t.equal(v.end, A + 3 * PAGE)
    t.equal(v.pages, 3)
    t.equal(v.pgoff, A / PAGE)
    t.equal(v.prot, 'rw')
    t.same(v.flags, ['read', 'write', 'mayread', 'maywrite', 'mayexec', 'account'], 'accountable_mapping(): private writable memory carries VM_ACCOUNT')
    t.equal(v.shared, false)
    t.equal(v.file, null)
    t.equal(v.fileKind, null)
    t.equal(v.anonVma, null, 'anon_vma_prepare runs only on the first anonymous page')
    t.same(v.anonVmaChain, [])
    t.equal(s.processInfo(pid).vmas, 1)
    t.equal(s.processInfo(pid).pageTablePages, 1, 'mmap allocates no page tables')
    clean(t, s)
  })

  t.test(`[${kernel}] do_mmap: file mappings: vm_pgoff is the file offset; the VMA joins i_mmap`, async (t) => {
    const { s, pid } = setup(kernel)
    s.createFile({ name: 'f', pages: 10 })
    const p = s.mmap({ pid, addr: A, pages: 2, file: 'f', offset: 4, prot: 'r' })
    const sh = s.mmap({ pid, addr: B, pages: 3, file: 'f', offset: 1, shared: true })
    t.equal(p.pgoff, 4)
    t.equal(p.file, 'f')
    t.equal(p.fileKind, 'file')
    t.equal(p.shared, false)
    t.equal(sh.pgoff, 1)
    t.equal(sh.shared, true)
    t.ok(sh.flags.includes('shared') && sh.flags.includes('mayshare'))
    t.same(s.fileInfo('f').immap.map((v) => [v.vmaId, v.start, v.pgoff, v.shared]).sort(), [[p.id, A, 4, false], [sh.id, B, 1, true]].sort())
    clean(t, s)
  })

  t.test(`[${kernel}] do_mmap: MAP_FIXED_NOREPLACE over an existing mapping is ConflictError EEXIST and changes nothing`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 4 })
    writeAll(s, pid, A, 4)
    rejects(t, s, () => s.mmap({ pid, addr: A + 2 * PAGE, pages: 4 }), { name: 'ConflictError', code: 'conflict', errno: 'EEXIST' }, 'overlapping tail')
    rejects(t, s, () => s.mmap({ pid, addr: A - PAGE, pages: 2, fixed: 'noreplace' }), { name: 'ConflictError', code: 'conflict', errno: 'EEXIST' }, 'overlapping head')
    rejects(t, s, () => s.mmap({ pid, addr: A - PAGE, pages: 6 }), { name: 'ConflictError', code: 'conflict', errno: 'EEXIST' }, 'covering it')
    clean(t, s)
  })

  t.test(`[${kernel}] do_mmap MAP_FIXED (replace): the old range is unmapped first (its pages freed), then mapped afresh`, async (t) => {
    const { s, pid } = setup(kernel)
    s.createFile({ name: 'f', pages: 4 })
    s.mmap({ pid, addr: A, pages: 6 })
    writeAll(s, pid, A, 6)
    const freed = mustPfn(s, pid, A + 2 * PAGE)
    const kept = mustPfn(s, pid, A)
    const v = s.mmap({ pid, addr: A + 2 * PAGE, pages: 2, fixed: 'replace', file: 'f', prot: 'r' })
    t.equal(v.start, A + 2 * PAGE)
    t.equal(v.file, 'f')
    t.same(vmaRanges(s, pid), [[A, A + 2 * PAGE, A / PAGE], [A + 2 * PAGE, A + 4 * PAGE, 0], [A + 4 * PAGE, A + 6 * PAGE, A / PAGE + 4]])
    t.equal(s.frame(freed).kind, 'free', 'the replaced anonymous page is freed')
    t.equal(mustPfn(s, pid, A), kept)
    t.equal(s.read({ pid, addr: A + 2 * PAGE }).path, 'file_read', 'the new mapping faults in fresh')
    t.equal(s.process(pid).rss.anon, 4)
    clean(t, s)
  })

  t.test(`[${kernel}] do_mmap MAP_FIXED (replace) on a free range behaves like a plain fixed mapping`, async (t) => {
    const { s, pid } = setup(kernel)
    const v = s.mmap({ pid, addr: B, pages: 1, fixed: 'replace' })
    t.equal(v.start, B)
    clean(t, s)
  })

  t.test(`[${kernel}] get_unmapped_area: a free hint is used as is; an occupied one is not`, async (t) => {
    const { s, pid } = setup(kernel)
    const h = s.mmap({ pid, addr: B, pages: 2, fixed: 'hint' })
    t.equal(h.start, B, 'free hint honoured')
    const h2 = s.mmap({ pid, addr: B, pages: 2, fixed: 'hint', prot: 'r' })
    t.not(h2.start, B, 'occupied hint: the kernel picks another place')
    t.ok(h2.end <= B || h2.start >= B + 2 * PAGE, 'no overlap')
    t.same(vmaRanges(s, pid).find((r) => r[0] === B), [B, B + 2 * PAGE, B / PAGE], 'the first mapping is untouched')
    clean(t, s)
  })

  t.test(`[${kernel}] vma_merge: adjacent compatible private anonymous mappings merge (after and before)`, async (t) => {
    const { s, pid } = setup(kernel)
    const a = s.mmap({ pid, addr: A, pages: 2 })
    const b = s.mmap({ pid, addr: A + 2 * PAGE, pages: 2 })
    t.equal(b.id, a.id, 'merged into the previous VMA')
    t.same(vmaRanges(s, pid), [[A, A + 4 * PAGE, A / PAGE]])
    const c = s.mmap({ pid, addr: A - 2 * PAGE, pages: 2 })
    t.equal(c.id, a.id, 'merged with the next VMA too')
    t.same(vmaRanges(s, pid), [[A - 2 * PAGE, A + 4 * PAGE, A / PAGE - 2]], 'the merged VMA starts lower, pgoff follows')
    clean(t, s)
  })

  t.test(`[${kernel}] vma_merge: a gap-filling mapping merges prev, itself and next into one VMA`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 2 })
    s.mmap({ pid, addr: A + 4 * PAGE, pages: 2 })
    s.write({ pid, addr: A })
    s.write({ pid, addr: A + 4 * PAGE })
    t.equal(s.processInfo(pid).vmas, 2)
    const vl0 = s.processInfo(pid).vmaList
    t.not(vl0[0].anonVma, vl0[1].anonVma, 'not adjacent: find_mergeable_anon_vma found nothing, two anon_vmas')
    s.mmap({ pid, addr: A + 2 * PAGE, pages: 2 })
    // Each side is compatible with the new range, but prev and next have different anon_vmas, so
    // only the merge with prev happens (can_vma_merge_right / 2.6.11 is_mergeable_anon_vma(prev, next)).
    t.same(vmaRanges(s, pid), [[A, A + 4 * PAGE, A / PAGE], [A + 4 * PAGE, A + 6 * PAGE, A / PAGE + 4]])
    clean(t, s)
  })

  t.test(`[${kernel}] find_mergeable_anon_vma: a neighbour's anon_vma is shared, so the three-way merge succeeds`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 2 })
    s.mmap({ pid, addr: A + 2 * PAGE, pages: 2, prot: 'rwx' })
    s.write({ pid, addr: A })
    s.write({ pid, addr: A + 2 * PAGE })
    const vl = s.processInfo(pid).vmaList
    t.equal(vl.length, 2, 'different prot: two VMAs')
    t.equal(vl[1].anonVma, vl[0].anonVma, 'anon_vma_prepare reused the adjacent neighbour\'s anon_vma (flags differ only in VM_ACCESS_FLAGS)')
    t.equal(s.stats().anonVmas, 1)
    s.mprotect({ pid, addr: A + 2 * PAGE, pages: 2, prot: 'rw' })
    t.same(vmaRanges(s, pid), [[A, A + 4 * PAGE, A / PAGE]], 'same anon_vma, so mprotect can merge them back')
    clean(t, s)
  })

  t.test(`[${kernel}] vma_merge: incompatible neighbours stay apart (prot, pgoff, file, shared anon)`, async (t) => {
    const { s, pid } = setup(kernel)
    s.createFile({ name: 'f', pages: 8 })
    s.mmap({ pid, addr: A, pages: 2 })
    s.mmap({ pid, addr: A + 2 * PAGE, pages: 2, prot: 'r' })
    s.mmap({ pid, addr: B, pages: 2, file: 'f', offset: 0 })
    const cont = s.mmap({ pid, addr: B + 2 * PAGE, pages: 2, file: 'f', offset: 2 })
    const gap = s.mmap({ pid, addr: B + 4 * PAGE, pages: 2, file: 'f', offset: 5 })
    s.mmap({ pid, addr: B + 8 * PAGE, pages: 1, shared: true })
    s.mmap({ pid, addr: B + 9 * PAGE, pages: 1, shared: true })
    const r = vmaRanges(s, pid)
    t.same(r, [
      [A, A + 2 * PAGE, A / PAGE], [A + 2 * PAGE, A + 4 * PAGE, A / PAGE + 2],
      // Every mmap opens the file anew: vm_file differs, so even continuous pgoffs do not merge.
      [B, B + 2 * PAGE, 0], [B + 2 * PAGE, B + 4 * PAGE, 2], [B + 4 * PAGE, B + 6 * PAGE, 5],
      [B + 8 * PAGE, B + 9 * PAGE, 0], [B + 9 * PAGE, B + 10 * PAGE, 0]
    ])
    t.not(cont.id, gap.id)
    const files = s.processInfo(pid).vmaList.slice(4).map((v) => v.file)
    t.not(files[0], files[1], 'each shared anonymous mapping has its own shmem object')
    clean(t, s)
  })

  t.test(`[${kernel}] do_mmap: bad calls are typed errors that change nothing`, async (t) => {
    const { s, pid } = setup(kernel)
    s.createFile({ name: 'f', pages: 2 })
    s.mmap({ pid, addr: A, pages: 1 })
    const inv = { name: 'InvalidArgumentError', code: 'invalid_argument' as const }
    rejects(t, s, () => s.mmap({ pid, addr: A + 4 * PAGE, pages: 0 }), { ...inv, errno: 'EINVAL' }, 'length 0')
    rejects(t, s, () => s.mmap({ pid, addr: A + 4 * PAGE, pages: -1 }), { ...inv, errno: 'EINVAL' }, 'negative length')
    rejects(t, s, () => s.mmap({ pid, addr: A + 4 * PAGE, pages: 1.5 }), { ...inv, errno: 'EINVAL' }, 'fractional length')
    rejects(t, s, () => s.mmap({ pid, addr: A + 4 * PAGE + 1, pages: 1 }), { ...inv, errno: 'EINVAL' }, 'unaligned fixed address')
    rejects(t, s, () => s.mmap({ pid, addr: -PAGE, pages: 1 }), { ...inv, errno: 'EINVAL' }, 'negative address')
    rejects(t, s, () => s.mmap({ pid, addr: taskSizeOf(kernel) - PAGE, pages: 2 }), { ...inv, errno: 'ENOMEM' }, 'past the top of user space (non-canonical end)')
    rejects(t, s, () => s.mmap({ pid, addr: 2 ** 47, pages: 1 }), { ...inv, errno: 'ENOMEM' }, 'non-canonical address')
    if (kernel === '6.18') rejects(t, s, () => s.mmap({ pid, addr: 0x1000, pages: 1 }), { ...inv, errno: 'EPERM' }, 'below mmap_min_addr')
    rejects(t, s, () => s.mmap({ pid, addr: B, pages: 1, file: 'f', offset: 2 }), { ...inv, errno: 'ENXIO' }, 'offset past the file')
    rejects(t, s, () => s.mmap({ pid, addr: B, pages: 1, file: 'f', offset: -1 }), { ...inv, errno: 'EINVAL' }, 'negative offset')
    rejects(t, s, () => s.mmap({ pid, addr: B, pages: 1, file: 'nope' }), { name: 'NotFoundError', code: 'not_found', errno: 'ENOENT' }, 'unknown file')
    rejects(t, s, () => s.mmap({ pid, addr: B, pages: 1, prot: 'wr' as never }), { ...inv, errno: 'EINVAL' }, 'bad prot order')
    rejects(t, s, () => s.mmap({ pid, addr: B, pages: 1, prot: 'q' as never }), { ...inv, errno: 'EINVAL' }, 'bad prot letter')
    rejects(t, s, () => s.mmap({ pid, addr: B, pages: 1, prot: '' as never }), { ...inv, errno: 'EINVAL' }, 'empty prot')
    rejects(t, s, () => s.mmap({ pid: 42, addr: B, pages: 1 }), { name: 'NotFoundError', code: 'not_found', errno: 'ESRCH' }, 'unknown pid')
    clean(t, s)
  })

  t.test(`[${kernel}] do_vmi_munmap: head, middle and tail; the upper piece's pgoff grows by the cut`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 10 })
    writeAll(s, pid, A, 10)
    const head = mustPfn(s, pid, A)
    const mid = mustPfn(s, pid, A + 4 * PAGE)
    const tail = mustPfn(s, pid, A + 9 * PAGE)
    const keep = mustPfn(s, pid, A + 6 * PAGE)
    s.munmap({ pid, addr: A, pages: 1 })
    t.same(vmaRanges(s, pid), [[A + PAGE, A + 10 * PAGE, A / PAGE + 1]], 'head: pgoff += 1')
    s.munmap({ pid, addr: A + 9 * PAGE, pages: 1 })
    t.same(vmaRanges(s, pid), [[A + PAGE, A + 9 * PAGE, A / PAGE + 1]], 'tail: pgoff unchanged')
    s.munmap({ pid, addr: A + 4 * PAGE, pages: 2 })
    t.same(vmaRanges(s, pid), [[A + PAGE, A + 4 * PAGE, A / PAGE + 1], [A + 6 * PAGE, A + 9 * PAGE, A / PAGE + 6]], 'middle: split, upper pgoff = start >> 12')
    for (const p of [head, mid, tail]) t.equal(s.frame(p).kind, 'free', `PFN ${p} freed`)
    t.equal(s.frame(keep).mapcount, 1)
    t.equal(s.frame(keep).index, A / PAGE + 6, 'index unchanged')
    t.same(s.rmap(keep).mappings.map((m) => m.addr), [A + 6 * PAGE], 'the walk still finds it in the upper piece')
    const vl = s.processInfo(pid).vmaList
    t.equal(vl[0].anonVma, vl[1].anonVma, 'both pieces keep the anon_vma')
    t.equal(s.process(pid).rss.anon, 6)
    clean(t, s)
  })

  t.test(`[${kernel}] do_vmi_munmap: a file mapping split keeps both pieces in i_mmap with the right pgoff`, async (t) => {
    const { s, pid } = setup(kernel)
    s.createFile({ name: 'f', pages: 10 })
    s.mmap({ pid, addr: A, pages: 6, file: 'f', offset: 2, shared: true })
    for (let i = 0; i < 6; i++) s.read({ pid, addr: A + i * PAGE })
    const midPfn = mustPfn(s, pid, A + 2 * PAGE)
    s.munmap({ pid, addr: A + 2 * PAGE, pages: 1 })
    t.same(s.fileInfo('f').immap.map((v) => [v.start, v.end, v.pgoff]).sort((a, b) => a[0] - b[0]), [[A, A + 2 * PAGE, 2], [A + 3 * PAGE, A + 6 * PAGE, 5]])
    t.equal(s.frame(midPfn).kind, 'file', 'the page stays cached')
    t.equal(s.frame(midPfn).mapcount, 0)
    t.equal(s.frame(midPfn).refcount, 1)
    const upper = mustPfn(s, pid, A + 4 * PAGE)
    t.same(s.rmap(upper).mappings.map((m) => m.addr), [A + 4 * PAGE])
    clean(t, s)
  })

  t.test(`[${kernel}] do_vmi_munmap: a range over several VMAs and holes; unmapping nothing is a no-op`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 2 })
    s.mmap({ pid, addr: A + 3 * PAGE, pages: 2, prot: 'r' })
    s.mmap({ pid, addr: A + 6 * PAGE, pages: 2 })
    s.munmap({ pid, addr: A + PAGE, pages: 6 })
    t.same(vmaRanges(s, pid), [[A, A + PAGE, A / PAGE], [A + 7 * PAGE, A + 8 * PAGE, A / PAGE + 7]])
    const before = stateOf(s)
    s.munmap({ pid, addr: B, pages: 4 })
    t.equal(stateOf(s), before, 'munmap of an unmapped range changes nothing')
    clean(t, s)
  })

  t.test(`[${kernel}] free_pgtables: page-table pages are freed when no VMA needs them, kept when a neighbour does`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.write({ pid, addr: A })
    t.equal(s.processInfo(pid).pageTablePages, 4, 'pgd, pud, pmd, pte')
    s.munmap({ pid, addr: A, pages: 1 })
    t.equal(s.processInfo(pid).pageTablePages, 1, 'only the pgd is left')
    t.equal(s.stats().framesInUse, 1)
    s.mmap({ pid, addr: A, pages: 1 })
    s.mmap({ pid, addr: A + 2 * PAGE, pages: 1, prot: 'r' })
    s.write({ pid, addr: A })
    s.read({ pid, addr: A + 2 * PAGE })
    s.munmap({ pid, addr: A, pages: 1 })
    t.equal(s.processInfo(pid).pageTablePages, 4, 'the PTE table is still used by the neighbour')
    t.equal(s.translate(pid, A).levels.length, 4)
    // Two mappings 1 GiB apart: unmapping one frees its pmd and pte tables, not the shared pud.
    s.mmap({ pid, addr: A + 0x40000000, pages: 1 })
    s.write({ pid, addr: A + 0x40000000 })
    t.equal(s.processInfo(pid).pageTablePages, 6)
    s.munmap({ pid, addr: A + 0x40000000, pages: 1 })
    t.equal(s.processInfo(pid).pageTablePages, 4)
    clean(t, s)
  })

  t.test(`[${kernel}] do_vmi_munmap: bad calls are typed errors that change nothing`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 2 })
    const inv = { name: 'InvalidArgumentError', code: 'invalid_argument' as const }
    rejects(t, s, () => s.munmap({ pid, addr: A + 1, pages: 1 }), { ...inv, errno: 'EINVAL' }, 'unaligned')
    rejects(t, s, () => s.munmap({ pid, addr: A, pages: 0 }), { ...inv, errno: 'EINVAL' }, 'length 0')
    rejects(t, s, () => s.munmap({ pid, addr: taskSizeOf(kernel), pages: 1 }), { ...inv, errno: 'EINVAL' }, 'non-canonical (do_munmap: -EINVAL)')
    rejects(t, s, () => s.munmap({ pid: 7, addr: A, pages: 1 }), { name: 'NotFoundError', code: 'not_found', errno: 'ESRCH' }, 'unknown pid')
    clean(t, s)
  })
}

// ------------------------------------------------------------------ placement, per model

t.test('arch_get_unmapped_area_topdown (6.18): the first mapping ends at mmap_base 0x7ffff7fff000, the next goes below it', async (t) => {
  const { s, pid } = setup('6.18')
  t.equal(MMAP_BASE, TOP_618)
  s.createFile({ name: 'f', pages: 4 })
  const a = s.mmap({ pid, pages: 1, file: 'f' })
  t.equal(a.end, TOP_618)
  t.equal(a.start, TOP_618 - PAGE)
  const b = s.mmap({ pid, pages: 3, file: 'f', prot: 'r' })
  t.equal(b.end, a.start, 'directly below (no gap for plain VMAs)')
  const c = s.mmap({ pid, pages: 2 })
  t.equal(c.end, b.start, 'a non-2MiB anon mapping too')
  t.equal(c.pgoff, c.start / PAGE)
  clean(t, s)
})

t.test('thp_get_unmapped_area (6.18): a 2 MiB-multiple private anonymous mapping gets 2 MiB alignment', async (t) => {
  const { s, pid } = setup('6.18')
  const first = s.mmap({ pid, pages: 1 })
  t.equal(first.end, TOP_618)
  const big = s.mmap({ pid, pages: 512 })
  t.equal(big.start % (2 * MiB), 0, 'aligned to PMD_SIZE')
  t.equal(big.start, 0x7ffff7c00000, 'the highest aligned place below the first mapping')
  t.ok(big.end <= first.start)
  t.not(big.end, first.start, 'so it does not sit directly below the previous mapping')
  const big2 = s.mmap({ pid, pages: 1024 })
  t.equal(big2.start % (2 * MiB), 0)
  // padded search: [0x7ffff7600000, 0x7ffff7c00000) is aligned, so ret + size = 0x7ffff7800000; it
  // then ends exactly at big.start and merges with it (same flags, continuous pgoff).
  t.equal(big2.start, 0x7ffff7800000, 'already aligned: takes the top aligned slot (ret + size)')
  t.equal(big2.end, big.end, 'merged with the previous 2 MiB mapping')
  // Not for shared or file mappings.
  s.createFile({ name: 'f', pages: 512 })
  const f = s.mmap({ pid, pages: 512, file: 'f' })
  t.equal(f.end, big2.start, 'file mappings get no THP alignment: directly below')
  clean(t, s)
})

t.test('arch_get_unmapped_area (2.6.11 x86-64): bottom-up first fit from TASK_UNMAPPED_64 = 0x2aaaaaaab000', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.createFile({ name: 'f', pages: 8 })
  const a = s.mmap({ pid, pages: 2, file: 'f' })
  t.equal(a.start, BASE_2611)
  const b = s.mmap({ pid, pages: 1, file: 'f', prot: 'r' })
  t.equal(b.start, a.end, 'next one right above')
  const big = s.mmap({ pid, pages: 512 })
  t.equal(big.start, b.end, 'no THP alignment in 2.6.11')
  t.equal(big.pgoff, big.start / PAGE)
  // arch_unmap_area: a hole below free_area_cache makes the next search start there.
  s.munmap({ pid, addr: a.start, pages: 2 })
  const c = s.mmap({ pid, pages: 1, file: 'f', offset: 7 })
  t.equal(c.start, BASE_2611, 'fills the hole')
  const d = s.mmap({ pid, pages: 2, file: 'f', offset: 3, prot: 'rx' })
  t.equal(d.start, big.end, 'first fit from free_area_cache upward; the 1-page hole is too small')
  clean(t, s)
})

t.test('TASK_SIZE: 2.6.11 x86-64 lets a mapping end at 0x800000000000; 6.18 stops a page below (TASK_SIZE_MAX)', async (t) => {
  for (const kernel of MODELS_UNDER_TEST) {
    const { s, pid } = setup(kernel)
    const last = 2 ** 47 - PAGE
    if (kernel === '2.6.11') {
      t.equal(s.mmap({ pid, addr: last, pages: 1, fixed: 'replace' }).end, 2 ** 47, 'include/asm-x86_64/processor.h: TASK_SIZE (0x800000000000UL)')
      t.equal(s.write({ pid, addr: last }).path, 'anon_alloc')
    } else {
      rejects(t, s, () => s.mmap({ pid, addr: last, pages: 1, fixed: 'replace' }), { name: 'InvalidArgumentError', code: 'invalid_argument', errno: 'ENOMEM' }, 'past TASK_SIZE_MAX')
    }
    clean(t, s)
  }
})

t.test('arch_unmap_area (2.6.11): an munmap that starts in a hole lowers free_area_cache to the removed VMA\'s vm_start', async (t) => {
  // mm/mmap.c unmap_vma() -> arch_unmap_area(area): `area->vm_start < free_area_cache` moves the
  // cache to the removed VMA's own start, not to the munmap's start.
  const { s, pid } = setup('2.6.11')
  s.mmap({ pid, addr: BASE_2611, pages: 1, fixed: 'replace' })
  const b = s.mmap({ pid, addr: BASE_2611 + 2 * PAGE, pages: 2, fixed: 'replace', prot: 'r' })
  const big = s.mmap({ pid, pages: 4 })
  t.equal(big.start, BASE_2611 + 4 * PAGE, 'the 1-page hole is too small for it')
  s.munmap({ pid, addr: BASE_2611 + PAGE, pages: 3 })
  const next = s.mmap({ pid, pages: 1, prot: 'rx' })
  t.equal(next.start, b.start, 'the search starts at the removed VMA, above the hole the munmap started in')
  clean(t, s)
})

t.test('arch_get_unmapped_area (2.6.11): two anonymous mmaps without address merge into one VMA', async (t) => {
  const { s, pid } = setup('2.6.11')
  const a = s.mmap({ pid, pages: 2 })
  const b = s.mmap({ pid, pages: 2 })
  t.equal(b.id, a.id)
  t.same(vmaRanges(s, pid), [[BASE_2611, BASE_2611 + 4 * PAGE, BASE_2611 / PAGE]])
  clean(t, s)
})

t.test('arch_get_unmapped_area_topdown (6.18): two anonymous mmaps without address merge (the lower one extends down)', async (t) => {
  const { s, pid } = setup('6.18')
  const a = s.mmap({ pid, pages: 2 })
  const b = s.mmap({ pid, pages: 2 })
  t.equal(b.id, a.id)
  t.same(vmaRanges(s, pid), [[TOP_618 - 4 * PAGE, TOP_618, (TOP_618 - 4 * PAGE) / PAGE]])
  clean(t, s)
})

t.test('do_mmap MAP_SHARED|MAP_ANONYMOUS (6.18): pgoff is ignored (0); shmem_zero_setup backs it', async (t) => {
  const { s, pid } = setup('6.18')
  const v = s.mmap({ pid, addr: A, pages: 2, shared: true, offset: 7 })
  t.equal(v.pgoff, 0)
  t.equal(v.fileKind, 'shmem')
  t.equal(v.shared, true)
  const w = s.write({ pid, addr: A + PAGE })
  t.equal(s.frame(w.pfn as number).index, 1, 'shmem page index = pgoff 0 + 1')
  clean(t, s)
})

t.test('do_mmap_pgoff MAP_SHARED|MAP_ANONYMOUS (2.6.11): pgoff is the caller\'s offset (normally 0)', async (t) => {
  const { s, pid } = setup('2.6.11')
  const v = s.mmap({ pid, addr: A, pages: 2, shared: true })
  t.equal(v.pgoff, 0)
  t.equal(v.fileKind, 'shmem')
  const w = s.mmap({ pid, addr: B, pages: 2, shared: true, offset: 3 })
  t.equal(w.pgoff, 3, 'not zeroed in 2.6.11')
  clean(t, s)
})

t.test('shmem_zero_setup (2.6.11): the object is vm_end - vm_start long, so an offset mapping faults past it with SIGBUS', async (t) => {
  // mm/shmem.c shmem_zero_setup(): shmem_file_setup("dev/zero", vma->vm_end - vma->vm_start, ...);
  // shmem_nopage(): idx << PAGE_CACHE_SHIFT >= i_size_read(inode) -> NOPAGE_SIGBUS.
  const { s, pid } = setup('2.6.11')
  s.mmap({ pid, addr: A, pages: 4, shared: true, offset: 2 })
  t.equal(s.write({ pid, addr: A }).path, 'shared_write', 'index 2 is inside the 4-page object')
  t.equal(s.read({ pid, addr: A + PAGE }).path, 'file_read', 'index 3 too')
  for (const addr of [A + 2 * PAGE, A + 3 * PAGE]) {
    const r = s.read({ pid, addr })
    t.same([r.ok, r.signal, r.siCode], [false, 'SIGBUS', 'BUS_ADRERR'], 'indexes 4 and 5 are past it')
  }
  clean(t, s)
})

t.test('is_mergeable_anon_vma (6.18): a new mapping does not merge with a forked VMA (vma_had_uncowed_parents)', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 2 })
  s.write({ pid, addr: A })
  const child = s.fork({ pid }).pid
  s.mmap({ pid: child, addr: A + 2 * PAGE, pages: 2 })
  t.equal(s.processInfo(child).vmas, 2, 'the child\'s VMA has a non-singular chain, so no merge')
  s.mmap({ pid, addr: A + 2 * PAGE, pages: 2 })
  t.equal(s.processInfo(pid).vmas, 1, 'the parent\'s VMA (singular chain) still merges')
  clean(t, s)
})

t.test('is_mergeable_anon_vma (2.6.11): a new mapping merges with a forked VMA (no ancestry test)', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.mmap({ pid, addr: A, pages: 2 })
  s.write({ pid, addr: A })
  const child = s.fork({ pid }).pid
  s.mmap({ pid: child, addr: A + 2 * PAGE, pages: 2 })
  t.equal(s.processInfo(child).vmas, 1)
  clean(t, s)
})

t.test('round_hint_to_min (6.18): a hint that is not page-aligned is rounded down (hint &= PAGE_MASK)', async (t) => {
  const { s, pid } = setup('6.18')
  let v
  try {
    v = s.mmap({ pid, addr: B + 123, pages: 1, fixed: 'hint' })
  } catch (e) {
    t.fail(`mmap with an unaligned hint threw ${String(e)}; Linux rounds the hint down and maps at ${B.toString(16)}`)
    return
  }
  t.equal(v.start, B)
  clean(t, s)
})

t.test('round_hint_to_min (6.18): a hint below mmap_min_addr is raised to mmap_min_addr', async (t) => {
  const { s, pid } = setup('6.18')
  const v = s.mmap({ pid, addr: 0x1000, pages: 1, fixed: 'hint' })
  t.equal(v.start, 0x10000, 'PAGE_ALIGN(mmap_min_addr), free, so used')
  clean(t, s)
})

t.test('mmap: the session limit on VMAs per process is a LimitError (ENOMEM), nothing changes', async (t) => {
  const { Simulator } = await import('../../../src/sim/index.js')
  const s = new Simulator({ version: '6.18', limits: { maxVmasPerProcess: 2 } })
  const pid = s.spawn({}).pid
  s.mmap({ pid, addr: A, pages: 4 })
  s.mmap({ pid, addr: B, pages: 1, prot: 'r' })
  rejects(t, s, () => s.mmap({ pid, addr: A + 16 * PAGE, pages: 1, prot: 'r' }), { name: 'LimitError', code: 'limit', errno: 'ENOMEM' }, 'third VMA')
  rejects(t, s, () => s.munmap({ pid, addr: A + PAGE, pages: 1 }), { name: 'LimitError', code: 'limit' }, 'munmap that would split')
  rejects(t, s, () => s.mprotect({ pid, addr: A + PAGE, pages: 1, prot: 'r' }), { name: 'LimitError', code: 'limit' }, 'mprotect that would split')
  s.munmap({ pid, addr: A, pages: 1 })
  t.equal(s.processInfo(pid).vmas, 2, 'cutting the head is fine')
  clean(t, s)
})

t.test('do_mmap_pgoff (2.6.11): there is no mmap_min_addr yet (added in 2.6.23), so a fixed mapping at 0x1000 is allowed', async (t) => {
  const { s, pid } = setup('2.6.11')
  let v
  try {
    v = s.mmap({ pid, addr: 0x1000, pages: 1 })
  } catch (e) {
    t.fail(`mmap at 0x1000 threw ${String(e)}; 2.6.11 has no vm.mmap_min_addr check`)
    return
  }
  t.equal(v.start, 0x1000)
  clean(t, s)
})
