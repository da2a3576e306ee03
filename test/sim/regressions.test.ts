import t from 'tap'
import { Simulator } from '../../src/sim/index.js'

/** Bugs found by the randomised test, each reduced to the calls that showed it. */

for (const kernel of ['2.6.11', '6.18'] as const) {
  t.test(`free_swap_cache: a swapped-in page is freed with its last mapping (${kernel})`, async (t) => {
    const s = new Simulator({ version: kernel })
    const p = s.spawn({}).pid
    const v = s.mmap({ pid: p, pages: 1 })
    const pfn = s.write({ pid: p, addr: v.start }).pfn as number
    s.unmap({ pfn })
    if (kernel === '2.6.11') s.unmap({ pfn }) // the first try only cleared the young bit
    s.read({ pid: p, addr: v.start })
    s.exit({ pid: p })
    s.dropCaches()
    t.equal(s.stats().framesInUse, 0, 'no frame left')
    t.equal(s.stats().swapSlotsUsed, 0, 'no swap slot left')
    t.same(s.check().violations, [])
  })

  t.test(`fractional page counts are refused and change nothing (${kernel})`, async (t) => {
    const s = new Simulator({ version: kernel })
    const p = s.spawn({}).pid
    s.mmap({ pid: p, addr: 0x10000000, pages: 4 })
    s.write({ pid: p, addr: 0x10000000 })
    const before = JSON.stringify(s.snapshot())
    for (const call of [
      () => { s.munmap({ pid: p, addr: 0x10000000, pages: 1.5 }) },
      () => { s.mprotect({ pid: p, addr: 0x10000000, pages: 1.5, prot: 'r' }) },
      () => { s.madvise({ pid: p, addr: 0x10000000, pages: 1.5, advice: 'dontneed' }) },
      () => { s.mremap({ pid: p, addr: 0x10000000, pages: 1.5, newPages: 2 }) },
      () => { s.mremap({ pid: p, addr: 0x10000000, pages: 1, newPages: 2.5 }) }
    ]) t.throws(call, { code: 'invalid_argument', errno: 'EINVAL' })
    t.equal(JSON.stringify(s.snapshot()), before)
  })
}

t.test('a failing mremap leaves the 2.6.11 address-search cache alone', async (t) => {
  const s = new Simulator({ version: '2.6.11', limits: { maxFrames: 6 } })
  const p = s.spawn({}).pid
  s.mmap({ pid: p, addr: 0x10000000, pages: 1 })
  s.write({ pid: p, addr: 0x10000000 })
  s.mmap({ pid: p, addr: 0x10001000, pages: 1, prot: 'r' })
  const before = JSON.stringify(s.snapshot())
  t.throws(() => s.mremap({ pid: p, addr: 0x10000000, pages: 1, newPages: 2 }), { code: 'limit' })
  t.equal(JSON.stringify(s.snapshot()), before, 'state, free_area_cache included, unchanged')
  s.munmap({ pid: p, addr: 0x10001000, pages: 1 })
  t.equal(s.mmap({ pid: p, pages: 1, prot: 'r' }).start, 0x2aaaaaaab000, 'the search still starts at TASK_UNMAPPED_BASE')
})
