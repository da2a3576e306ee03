import t from 'tap'
import { Simulator } from '../../src/sim/index.js'

/** Bugs found by the randomised test, each reduced to the calls that showed it. */

for (const kernel of ['2.6.11', '6.18'] as const) {
  t.test(`free_swap_cache: a swapped-in page is freed with its last mapping (${kernel})`, async (t) => {
    const s = new Simulator({ kernel })
    const p = s.spawn().pid
    const v = s.mmap(p, { pages: 1 })
    const pfn = s.access(p, v.start, 'write').pfn as number
    s.unmap(pfn)
    if (kernel === '2.6.11') s.unmap(pfn) // the first try only cleared the young bit
    s.access(p, v.start, 'read')
    s.exit(p)
    s.dropCaches()
    t.equal(s.stats().framesInUse, 0, 'no frame left')
    t.equal(s.stats().swapSlotsUsed, 0, 'no swap slot left')
    t.same(s.check().violations, [])
  })

  t.test(`fractional page counts are refused and change nothing (${kernel})`, async (t) => {
    const s = new Simulator({ kernel })
    const p = s.spawn().pid
    s.mmap(p, { addr: 0x10000000, pages: 4 })
    s.access(p, 0x10000000, 'write')
    const before = JSON.stringify(s.snapshot())
    for (const call of [
      () => { s.munmap(p, 0x10000000, 1.5) },
      () => { s.mprotect(p, 0x10000000, 1.5, 'r') },
      () => { s.madvise(p, 0x10000000, 1.5, 'dontneed') },
      () => { s.mremap(p, { addr: 0x10000000, pages: 1.5, newPages: 2 }) },
      () => { s.mremap(p, { addr: 0x10000000, pages: 1, newPages: 2.5 }) }
    ]) t.throws(call, { code: 'invalid_argument', errno: 'EINVAL' })
    t.equal(JSON.stringify(s.snapshot()), before)
  })
}

t.test('a failing mremap leaves the 2.6.11 address-search cache alone', async (t) => {
  const s = new Simulator({ kernel: '2.6.11', limits: { maxFrames: 6 } })
  const p = s.spawn().pid
  s.mmap(p, { addr: 0x10000000, pages: 1 })
  s.access(p, 0x10000000, 'write')
  s.mmap(p, { addr: 0x10001000, pages: 1, prot: 'r' })
  const before = JSON.stringify(s.snapshot())
  t.throws(() => s.mremap(p, { addr: 0x10000000, pages: 1, newPages: 2 }), { code: 'limit' })
  t.equal(JSON.stringify(s.snapshot()), before, 'state, free_area_cache included, unchanged')
  s.munmap(p, 0x10001000, 1)
  t.equal(s.mmap(p, { pages: 1, prot: 'r' }).start, 0x2aaaaaaab000, 'the search still starts at TASK_UNMAPPED_BASE')
})
