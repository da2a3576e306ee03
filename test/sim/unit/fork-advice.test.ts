/**
 * MADV_DONTFORK / MADV_DOFORK (VM_DONTCOPY) and MADV_WIPEONFORK / MADV_KEEPONFORK (VM_WIPEONFORK):
 * mm/madvise.c madvise_vma_behavior() sets or clears the flag through madvise_update_vma() (split and
 * merge like any flag); dup_mmap() leaves a VM_DONTCOPY VMA out of the child and gives a
 * VM_WIPEONFORK one "a clean slate" (no anon_vma, no copy_page_range). 2.6.11 has neither advice.
 */
import t from 'tap'
import { ZERO_PFN } from '../../../src/sim/index.js'
import { A, B, PAGE, clean, mustPfn, pfnAt, rejects, setup, vmaRanges, writeAll } from './fixtures/helpers.js'

const inv = { name: 'InvalidArgumentError', code: 'invalid_argument' as const }

t.test('[6.18] MADV_DONTFORK splits off the range; fork leaves it and its PTEs out of the child', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 3 })
  writeAll(s, pid, A, 3)
  s.madvise({ pid, addr: A + PAGE, pages: 1, advice: 'dontfork' })
  t.same(vmaRanges(s, pid).map((r) => r.slice(0, 2)), [[A, A + PAGE], [A + PAGE, A + 2 * PAGE], [A + 2 * PAGE, A + 3 * PAGE]], 'VM_DONTCOPY differs: three VMAs')
  t.ok(s.processInfo(pid).vmaList[1].flags.includes('dontcopy'))
  const child = s.fork({ pid }).pid
  t.same(vmaRanges(s, child).map((r) => r.slice(0, 2)), [[A, A + PAGE], [A + 2 * PAGE, A + 3 * PAGE]], 'the child lacks the middle VMA')
  t.equal(pfnAt(s, child, A), mustPfn(s, pid, A), 'the other pages are shared')
  t.equal(s.frame(mustPfn(s, pid, A + PAGE)).mapcount, 1, 'the DONTCOPY page stays the parent\'s alone')
  s.madvise({ pid, addr: A + PAGE, pages: 1, advice: 'dofork' })
  t.same(vmaRanges(s, pid).map((r) => r.slice(0, 2)), [[A, A + 3 * PAGE]], 'MADV_DOFORK: the flags agree again and the VMAs merge')
  const second = s.fork({ pid }).pid
  t.equal(pfnAt(s, second, A + PAGE), mustPfn(s, pid, A + PAGE), 'the next child shares the page')
  clean(t, s)
})

t.test('[6.18] MADV_WIPEONFORK: the child gets the VMA empty; KEEPONFORK undoes it', async (t) => {
  const { s, pid } = setup('6.18')
  s.mmap({ pid, addr: A, pages: 2 })
  writeAll(s, pid, A, 2)
  s.madvise({ pid, addr: A, pages: 2, advice: 'wipeonfork' })
  t.same(vmaRanges(s, pid).map((r) => r.slice(0, 2)), [[A, A + 2 * PAGE]], 'the whole VMA: no split')
  const child = s.fork({ pid }).pid
  const cv = s.processInfo(child).vmaList[0]
  t.equal(cv.anonVma, null, 'no anon_vma in the child')
  t.ok(cv.flags.includes('wipeonfork'), 'the child keeps VM_WIPEONFORK')
  t.equal(pfnAt(s, child, A), null, 'no PTE copied')
  t.equal(s.read({ pid: child, addr: A }).pfn, ZERO_PFN, 'a read in the child maps the zero page')
  s.madvise({ pid, addr: A, pages: 2, advice: 'keeponfork' })
  const third = s.fork({ pid }).pid
  t.equal(pfnAt(s, third, A), mustPfn(s, pid, A))
  clean(t, s)
})

t.test('[6.18] MADV_WIPEONFORK only on private anonymous memory (EINVAL, nothing changed)', async (t) => {
  const { s, pid } = setup('6.18')
  s.createFile({ name: 'f', pages: 2 })
  s.mmap({ pid, addr: A, pages: 2, file: 'f' })
  s.mmap({ pid, addr: B, pages: 2, shared: true })
  rejects(t, s, () => s.madvise({ pid, addr: A, pages: 1, advice: 'wipeonfork' }), { ...inv, errno: 'EINVAL' }, 'a file mapping')
  rejects(t, s, () => s.madvise({ pid, addr: B, pages: 1, advice: 'wipeonfork' }), { ...inv, errno: 'EINVAL' }, 'shared anonymous memory')
  rejects(t, s, () => s.madvise({ pid, addr: 0x50000000, pages: 1, advice: 'dontfork' }), { ...inv, errno: 'ENOMEM' }, 'an unmapped range')
})

t.test('[2.6.11] the fork advices are refused as unsupported, naming the version that added them', async (t) => {
  const { s, pid } = setup('2.6.11')
  s.mmap({ pid, addr: A, pages: 2 })
  const unsupported = { name: 'UnsupportedError', code: 'unsupported' as const, errno: 'EINVAL' }
  for (const [advice, since] of [['dontfork', '2.6.16'], ['dofork', '2.6.16'], ['wipeonfork', '4.14'], ['keeponfork', '4.14'], ['populate_read', '5.14'], ['populate_write', '5.14']] as const) {
    rejects(t, s, () => s.madvise({ pid, addr: A, pages: 1, advice }), unsupported, advice)
    t.throws(() => s.madvise({ pid, addr: A, pages: 1, advice }), new RegExp(`not in Linux 2\\.6\\.11: it came in ${since.replace(/\./g, '\\.')}`))
  }
})
