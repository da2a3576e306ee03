import t from 'tap'
import {
  ConflictError, InvalidArgumentError, LimitError, NotFoundError, SimError, Simulator, UnsupportedError, parseProt
} from '../../../src/sim/index.js'
import { A, MODELS_UNDER_TEST, PAGE, clean, rejects, setup } from './fixtures/helpers.js'

t.test('SimError classes: stable code, errno, name, details; all are SimErrors', async (t) => {
  const cases: Array<[SimError, string, string, string]> = [
    [new NotFoundError('x'), 'NotFoundError', 'not_found', 'ENOENT'],
    [new InvalidArgumentError('x'), 'InvalidArgumentError', 'invalid_argument', 'EINVAL'],
    [new ConflictError('x'), 'ConflictError', 'conflict', 'EEXIST'],
    [new LimitError('x'), 'LimitError', 'limit', 'ENOMEM'],
    [new UnsupportedError('x'), 'UnsupportedError', 'unsupported', 'EINVAL']
  ]
  for (const [e, name, code, errno] of cases) {
    t.ok(e instanceof SimError, `${name} is a SimError`)
    t.ok(e instanceof Error)
    t.equal(e.name, name)
    t.equal(e.code, code)
    t.equal(e.errno, errno, `${name} default errno`)
    t.equal(e.message, 'x')
  }
  const d = new NotFoundError('gone', 'ESRCH', { pid: 3 })
  t.equal(d.errno, 'ESRCH')
  t.same(d.details, { pid: 3 })
})

t.test('parseProt: the accepted spellings', async (t) => {
  t.equal(parseProt('none'), 0)
  t.equal(parseProt('r'), 1)
  t.equal(parseProt('rw'), 3)
  t.equal(parseProt('rwx'), 7)
  t.equal(parseProt('x'), 4)
  for (const bad of ['', 'wr', 'rr', 'R', 'rwxx', 'n', ' r']) t.throws(() => parseProt(bad), { code: 'invalid_argument' }, `"${bad}"`)
})

for (const kernel of MODELS_UNDER_TEST) {
  t.test(`[${kernel}] find_get_task_by_vpid (ESRCH): an unknown pid in every per-process call is NotFoundError (ESRCH) and changes nothing`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.write({ pid, addr: A })
    const nf = { name: 'NotFoundError', code: 'not_found' as const, errno: 'ESRCH' }
    const bad = 4242
    rejects(t, s, () => s.fork({ pid: bad }), nf, 'fork')
    rejects(t, s, () => s.exit({ pid: bad }), nf, 'exit')
    rejects(t, s, () => s.mmap({ pid: bad, addr: A, pages: 1 }), nf, 'mmap')
    rejects(t, s, () => s.munmap({ pid: bad, addr: A, pages: 1 }), nf, 'munmap')
    rejects(t, s, () => s.mprotect({ pid: bad, addr: A, pages: 1, prot: 'r' }), nf, 'mprotect')
    rejects(t, s, () => s.mremap({ pid: bad, addr: A, pages: 1, newPages: 2 }), nf, 'mremap')
    rejects(t, s, () => s.madvise({ pid: bad, addr: A, pages: 1, advice: 'dontneed' }), nf, 'madvise')
    rejects(t, s, () => s.read({ pid: bad, addr: A }), nf, 'access')
    rejects(t, s, () => s.translate(bad, A), nf, 'translate')
    rejects(t, s, () => s.ptes(bad), nf, 'ptes')
    rejects(t, s, () => s.processInfo(bad), nf, 'processInfo')
    rejects(t, s, () => s.pidOf('ghost'), nf, 'pidOf')
    s.exit({ pid })
    rejects(t, s, () => s.exit({ pid }), nf, 'exit of an exited process')
    rejects(t, s, () => s.read({ pid, addr: A }), nf, 'access by an exited process')
    clean(t, s)
  })

  t.test(`[${kernel}] duplicate process name: spawn and fork are ConflictError (EEXIST); the name is free again after exit`, async (t) => {
    const { s, pid } = setup(kernel, 'init')
    const conflict = { name: 'ConflictError', code: 'conflict' as const, errno: 'EEXIST' }
    rejects(t, s, () => s.spawn({ name: 'init' }), conflict, 'spawn with a live name')
    rejects(t, s, () => s.fork({ pid, child: 'init' }), conflict, 'fork with a live name')
    const c = s.fork({ pid, child: 'child' }).pid
    rejects(t, s, () => s.fork({ pid: c, child: 'child' }), conflict, 'fork with the child\'s name')
    s.exit({ pid: c })
    t.equal(s.fork({ pid, child: 'child' }).name, 'child', 'reusable after exit')
    t.equal(s.pidOf('child'), c + 1)
    clean(t, s)
  })

  t.test(`[${kernel}] createFile: bad names and sizes, duplicates and limits are typed errors that change nothing`, async (t) => {
    const s = new Simulator({ version: kernel, limits: { maxFiles: 2, maxFilePages: 8 } })
    s.createFile({ name: 'a', pages: 1 })
    const inv = { name: 'InvalidArgumentError', code: 'invalid_argument' as const, errno: 'EINVAL' }
    rejects(t, s, () => s.createFile({ name: '', pages: 1 }), inv, 'empty name')
    rejects(t, s, () => s.createFile({ name: 'x/y', pages: 1 }), inv, 'slash in the name')
    rejects(t, s, () => s.createFile({ name: 'n'.repeat(256), pages: 1 }), inv, 'name too long')
    rejects(t, s, () => s.createFile({ name: 'b', pages: 0 }), inv, 'zero pages')
    rejects(t, s, () => s.createFile({ name: 'b', pages: 1.5 }), inv, 'fractional pages')
    rejects(t, s, () => s.createFile({ name: 'b', pages: 9 }), { name: 'LimitError', code: 'limit', errno: 'ENOMEM' }, 'more than maxFilePages')
    rejects(t, s, () => s.createFile({ name: 'a', pages: 1 }), { name: 'ConflictError', code: 'conflict', errno: 'EEXIST' }, 'duplicate name')
    s.createFile({ name: 'n'.repeat(255), pages: 8 })
    rejects(t, s, () => s.createFile({ name: 'c', pages: 1 }), { name: 'LimitError', code: 'limit' }, 'more than maxFiles')
    clean(t, s)
  })

  t.test(`[${kernel}] pfn_valid: unknown PFNs are NotFoundError (ENOENT) in every frame call`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 1 })
    s.write({ pid, addr: A })
    const limit = s.state.frames.pfnLimit
    const nf = { name: 'NotFoundError', code: 'not_found' as const, errno: 'ENOENT' }
    for (const bad of [-1, 0, limit, limit + 100, 1.5, Number.NaN]) {
      rejects(t, s, () => s.frame(bad), nf, `frame(${bad})`)
      rejects(t, s, () => s.rmap(bad), nf, `rmap(${bad})`)
      rejects(t, s, () => s.referenced({ pfn: bad }), nf, `referenced(${bad})`)
      rejects(t, s, () => s.unmap({ pfn: bad }), nf, `unmap(${bad})`)
      rejects(t, s, () => s.mkclean({ pfn: bad }), nf, `mkclean(${bad})`)
      rejects(t, s, () => s.migrate({ pfn: bad }), nf, `migrate(${bad})`)
    }
    clean(t, s)
  })

  t.test(`[${kernel}] do_mmap / do_vmi_munmap / do_mprotect_pkey / do_madvise / mremap: unaligned, negative, non-canonical and zero-length ranges are rejected`, async (t) => {
    const { s, pid } = setup(kernel)
    s.mmap({ pid, addr: A, pages: 2 })
    s.write({ pid, addr: A })
    const inv = { name: 'InvalidArgumentError', code: 'invalid_argument' as const }
    const calls: Array<[string, (addr: number, pages: number) => unknown]> = [
      ['munmap', (a, n) => s.munmap({ pid, addr: a, pages: n })],
      ['mprotect', (a, n) => s.mprotect({ pid, addr: a, pages: n, prot: 'r' })],
      ['madvise', (a, n) => s.madvise({ pid, addr: a, pages: n, advice: 'dontneed' })],
      ['mremap', (a, n) => s.mremap({ pid, addr: a, pages: n, newPages: 1 })],
      ['mmap', (a, n) => s.mmap({ pid, addr: a, pages: n, fixed: 'replace' })]
    ]
    for (const [name, fn] of calls) {
      rejects(t, s, () => fn(A + 1, 1), { ...inv, errno: 'EINVAL' }, `${name}: unaligned`)
      rejects(t, s, () => fn(-PAGE, 1), { ...inv, errno: 'EINVAL' }, `${name}: negative`)
      rejects(t, s, () => fn(A, 0), { ...inv, errno: 'EINVAL' }, `${name}: length 0`)
      rejects(t, s, () => fn(2 ** 47, 1), { ...inv }, `${name}: non-canonical`)
      rejects(t, s, () => fn(Number.NaN, 1), { ...inv, errno: 'EINVAL' }, `${name}: NaN`)
    }
    clean(t, s)
  })
}
