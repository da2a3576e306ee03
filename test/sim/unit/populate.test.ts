/**
 * MADV_POPULATE_READ / MADV_POPULATE_WRITE: mm/madvise.c madvise_populate() -> faultin_page_range(),
 * GUP over the range: a read fault where nothing is mapped (the zero page for anonymous memory, the
 * page-cache page for a file), a write fault where the PTE does not allow writing (a new page, a COW
 * copy); permission problems are EINVAL (FOLL_MADV_POPULATE), a page past the end of its file EFAULT.
 */
import t from 'tap'
import { ZERO_PFN } from '../../../src/sim/index.js'
import { A, B, C, PAGE, clean, mustPfn, pfnAt, rejects, setup } from './fixtures/helpers.js'

const inv = { name: 'InvalidArgumentError', code: 'invalid_argument' as const }

t.test('[6.18] populate_read maps the zero page (anonymous) and the cache pages (file), only in the range', async (t) => {
  const { s, pid } = setup('6.18')
  s.createFile({ name: 'data', pages: 6 })
  s.mmap({ pid, addr: A, pages: 3 })
  s.mmap({ pid, addr: B, pages: 6, file: 'data' })
  s.populate({ pid, addr: A, pages: 3 })
  s.madvise({ pid, addr: B + PAGE, pages: 3, advice: 'populate_read' })
  for (let i = 0; i < 3; i++) t.equal(pfnAt(s, pid, A + i * PAGE), ZERO_PFN)
  t.equal(pfnAt(s, pid, B), null, 'outside the range: nothing')
  for (let i = 1; i <= 3; i++) t.equal(s.frame(mustPfn(s, pid, B + i * PAGE)).kind, 'file')
  t.equal(s.fileInfo('data').cached, 3)
  t.same(s.journal.slice(-2).map((e) => e.advice), ['populate_read', 'populate_read'], 'journaled as madvise')
  clean(t, s)
})

t.test('[6.18] populate_write: new pages, COW copies of the zero page and of private file pages, shared cache pages', async (t) => {
  const { s, pid } = setup('6.18')
  s.createFile({ name: 'data', pages: 2 })
  s.mmap({ pid, addr: A, pages: 3 })
  s.read({ pid, addr: A })
  s.populate({ pid, addr: A, pages: 3, write: true })
  for (let i = 0; i < 3; i++) t.equal(s.frame(mustPfn(s, pid, A + i * PAGE)).kind, 'anon', `page ${i} is anonymous`)
  s.mmap({ pid, addr: B, pages: 2, file: 'data' })
  s.read({ pid, addr: B })
  const cache = mustPfn(s, pid, B)
  s.populate({ pid, addr: B, pages: 2, write: true })
  t.not(mustPfn(s, pid, B), cache, 'the private file page is copied')
  t.equal(s.frame(mustPfn(s, pid, B)).kind, 'anon')
  s.mmap({ pid, addr: C, pages: 2, file: 'data', shared: true })
  s.populate({ pid, addr: C, pages: 2, write: true })
  t.equal(mustPfn(s, pid, C), cache, 'the shared mapping maps the cache page itself')
  clean(t, s)
})

t.test('[6.18] populate refuses what GUP may not fault, changing nothing', async (t) => {
  const { s, pid } = setup('6.18')
  s.createFile({ name: 'short', pages: 1 })
  s.mmap({ pid, addr: A, pages: 2, prot: 'r' })
  s.mmap({ pid, addr: B, pages: 1, prot: 'none' })
  s.mmap({ pid, addr: C, pages: 2, file: 'short' })
  rejects(t, s, () => s.populate({ pid, addr: A, pages: 2, write: true }), { ...inv, errno: 'EINVAL' }, 'a write to a read-only VMA')
  rejects(t, s, () => s.populate({ pid, addr: B, pages: 1 }), { ...inv, errno: 'EINVAL' }, 'a read of PROT_NONE')
  rejects(t, s, () => s.populate({ pid, addr: C, pages: 2 }), { ...inv, errno: 'EFAULT' }, 'a page past the end of the file (SIGBUS)')
  clean(t, s)
})
