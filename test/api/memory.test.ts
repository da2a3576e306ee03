import t from 'tap'
import { buildTestApp, call, createSession, type TestContext } from '../helper.js'
import { HEX, expectError, expectValidation, fingerprint, must, protFlags, pteAt, req } from './api-helpers.js'

async function withProcess (t: TestContext, limits?: Record<string, number>) {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18', limits)
  await req(app, s, 'POST', '/processes', { name: 'P' })
  await req(app, s, 'POST', '/files', { name: 'lib', pages: 4 })
  return { app, s }
}

t.test('POST /processes/:pid/mmap: fixed, kernel-chosen, hint, replace, file and shared mappings', async (t) => {
  const { app, s } = await withProcess(t)
  const v = await must(t, app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 4 })
  t.same({ ...v, id: 0, flags: protFlags(v.flags), flagsRaw: v.flagsRaw & 0xff }, {
    id: 0,
    start: '0x10000000',
    end: '0x10004000',
    pages: 4,
    pgoff: 0x10000,
    prot: 'rw',
    flags: ['read', 'write', 'mayread', 'maywrite', 'mayexec'],
    flagsRaw: 0x73,
    shared: false,
    file: null,
    fileKind: null,
    anonVma: null,
    anonVmaChain: []
  }, 'a private anonymous rw VMA at the fixed address (VM_READ|VM_WRITE|VM_MAY*)')
  const num = await must(t, app, s, 'POST', '/processes/1/mmap', { addr: 0x11000000, pages: 1, prot: 'r' })
  t.equal(num.start, '0x11000000', 'an integer address is accepted and printed in hex')
  t.same(protFlags(num.flags), ['read', 'mayread', 'maywrite', 'mayexec'])

  const chosen = await must(t, app, s, 'POST', '/processes/1/mmap', { pages: 2 })
  t.match(chosen.start, HEX)
  t.equal(chosen.start, '0x7ffff7ffd000', 'top-down below mmap_base (TASK_SIZE - 128 MiB)')
  t.equal(chosen.end, '0x7ffff7fff000')

  const hinted = await must(t, app, s, 'POST', '/processes/1/mmap', { addr: '0x40000000', pages: 1, fixed: 'hint', prot: 'rx' })
  t.equal(hinted.start, '0x40000000', 'a free hint is taken')
  t.same(protFlags(hinted.flags), ['read', 'exec', 'mayread', 'maywrite', 'mayexec'])
  const busyHint = await must(t, app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 1, fixed: 'hint', prot: 'none' })
  t.not(busyHint.start, '0x10000000', 'a busy hint is not')

  const f = await must(t, app, s, 'POST', '/processes/1/mmap', { addr: '0x20000000', pages: 2, file: 'lib', shared: true, offset: 1 })
  t.equal(f.file, 'lib')
  t.equal(f.fileKind, 'file')
  t.equal(f.pgoff, 1, 'pgoff is the file offset')
  t.equal(f.shared, true)
  t.same(protFlags(f.flags), ['read', 'write', 'shared', 'mayread', 'maywrite', 'mayexec', 'mayshare'])
  const shm = await must(t, app, s, 'POST', '/processes/1/mmap', { addr: '0x30000000', pages: 1, shared: true })
  t.equal(shm.fileKind, 'shmem', 'shared anonymous memory is shmem')

  // MAP_FIXED replaces what was there: the old PTE and frame go.
  const w = await req(app, s, 'POST', '/processes/1/access', { addr: '0x10001000', op: 'write' })
  const rep = await must(t, app, s, 'POST', '/processes/1/mmap', { addr: '0x10001000', pages: 1, fixed: 'replace', prot: 'r' })
  t.equal(rep.start, '0x10001000')
  t.equal((await pteAt(app, s, 1, 0x10001000)).kind, 'none', 'the replaced PTE is gone')
  t.equal((await must(t, app, s, 'GET', `/frames/${w.pfn as number}`)).kind, 'free', 'its frame is freed')
  const vmas = (await must(t, app, s, 'GET', '/processes/1')).vmaList.filter((x: { start: string }) => x.start.startsWith('0x1000'))
  t.same(vmas.map((x: { start: string, end: string, prot: string }) => [x.start, x.end, x.prot]),
    [['0x10000000', '0x10001000', 'rw'], ['0x10001000', '0x10002000', 'r'], ['0x10002000', '0x10004000', 'rw']], 'the old VMA was split around it')
})

t.test('mmap: 400 validation, 400 invalid_argument, 404, 409, 429', async (t) => {
  const { app, s } = await withProcess(t, { maxVmasPerProcess: 3 })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 4 })
  const before = await fingerprint(app, s)
  expectValidation(t, await call(app, s, 'POST', '/processes/1/mmap', { addr: '0x1g', pages: 0, prot: 'wr', shared: 'yes', fixed: 'maybe', offset: -1, flags: 3 }),
    ['body.addr', 'body.pages', 'body.prot', 'body.shared', 'body.fixed', 'body.offset', 'body'])
  expectValidation(t, await call(app, s, 'POST', '/processes/1/mmap', {}), ['body.pages'], 'pages is required')
  expectValidation(t, await call(app, s, 'POST', '/processes/1/mmap', { addr: '0xffff800000000000', pages: 1 }), ['body.addr'], 'a kernel address')
  expectValidation(t, await call(app, s, 'POST', '/processes/1/mmap', { addr: -4096, pages: 1 }), ['body.addr'], 'a negative address')
  expectValidation(t, await call(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: '1' }), ['body.pages'], 'a string for pages')
  expectValidation(t, await call(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 2 ** 64 }), ['body.pages'], '2^64 pages')

  const un = expectError(t, await call(app, s, 'POST', '/processes/1/mmap', { addr: '0x50000800', pages: 1 }), 400, 'invalid_argument', 'an unaligned address')
  t.equal(un.details?.errno, 'EINVAL')
  const low = expectError(t, await call(app, s, 'POST', '/processes/1/mmap', { addr: '0x1000', pages: 1, fixed: 'replace' }), 400, 'invalid_argument', 'below mmap_min_addr')
  t.equal(low.details?.errno, 'EPERM')
  expectError(t, await call(app, s, 'POST', '/processes/1/mmap', { addr: '0x7ffffffff000', pages: 1 }), 400, 'invalid_argument', 'past the top of user space')
  const nx = expectError(t, await call(app, s, 'POST', '/processes/1/mmap', { addr: '0x50000000', pages: 1, file: 'lib', offset: 4 }), 400, 'invalid_argument', 'an offset past the end of the file')
  t.equal(nx.details?.errno, 'ENXIO')

  expectError(t, await call(app, s, 'POST', '/processes/9/mmap', { addr: '0x50000000', pages: 1 }), 404, 'not_found', 'unknown pid')
  const nf = expectError(t, await call(app, s, 'POST', '/processes/1/mmap', { addr: '0x50000000', pages: 1, file: 'nope' }), 404, 'not_found', 'unknown file')
  t.same(nf.details, { errno: 'ENOENT', name: 'nope' })

  const c = expectError(t, await call(app, s, 'POST', '/processes/1/mmap', { addr: '0x10002000', pages: 4 }), 409, 'conflict', 'MAP_FIXED_NOREPLACE over a mapping')
  t.equal(c.details?.errno, 'EEXIST')
  t.match(c.message, /overlaps the mapping at \[0x10000000, 0x10004000\)/)
  expectError(t, await call(app, s, 'POST', '/processes/1/mmap', { addr: '0x0fffe000', pages: 3, fixed: 'noreplace' }), 409, 'conflict', 'overlapping the start')

  expectError(t, await call(app, s, 'POST', '/processes/1/mmap', { pages: 2 ** 36 }), 429, 'limit', 'no free range that large')
  t.equal(await fingerprint(app, s), before, 'no refused mmap changed anything')

  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x30000000', pages: 1 })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x40000000', pages: 1 })
  const lim = expectError(t, await call(app, s, 'POST', '/processes/1/mmap', { addr: '0x50000000', pages: 1 }), 429, 'limit', 'past maxVmasPerProcess')
  t.equal(lim.details?.errno, 'ENOMEM')
  t.equal((await must(t, app, s, 'GET', '/processes/1')).vmas, 3)
})

t.test('POST /processes/:pid/munmap: splits the VMA, drops PTEs and frees frames', async (t) => {
  const { app, s } = await withProcess(t)
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 5 })
  const pfns: number[] = []
  for (let i = 0; i < 4; i++) pfns.push((await req(app, s, 'POST', '/processes/1/access', { addr: 0x10000000 + i * 4096, op: 'write' })).pfn)
  t.same(await must(t, app, s, 'POST', '/processes/1/munmap', { addr: '0x10001000', pages: 2 }), { ok: true })
  const vmas = (await must(t, app, s, 'GET', '/processes/1')).vmaList
  t.same(vmas.map((v: { start: string, end: string }) => [v.start, v.end]), [['0x10000000', '0x10001000'], ['0x10003000', '0x10005000']])
  const ptes = (await must(t, app, s, 'GET', '/processes/1/ptes')).entries
  t.same(ptes.map((e: { addr: string }) => e.addr), ['0x10000000', '0x10003000'])
  t.equal((await must(t, app, s, 'GET', `/frames/${pfns[1]}`)).kind, 'free')
  t.equal((await must(t, app, s, 'GET', `/frames/${pfns[2]}`)).kind, 'free')
  t.equal((await must(t, app, s, 'GET', `/frames/${pfns[0]}`)).kind, 'anon')
  t.same(await must(t, app, s, 'POST', '/processes/1/munmap', { addr: '0x60000000', pages: 1 }), { ok: true }, 'unmapping nothing is fine (as in Linux)')
})

t.test('munmap: 400 invalid_argument, 400 validation, 404', async (t) => {
  const { app, s } = await withProcess(t)
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 4 })
  const before = await fingerprint(app, s)
  const e = expectError(t, await call(app, s, 'POST', '/processes/1/munmap', { addr: '0x10000800', pages: 1 }), 400, 'invalid_argument', 'an unaligned munmap')
  t.equal(e.details?.errno, 'EINVAL')
  t.match(e.message, /0x10000800 is not a page-aligned/)
  expectError(t, await call(app, s, 'POST', '/processes/1/munmap', { addr: '0x10000000', pages: 2 ** 36 }), 400, 'invalid_argument', 'past the top of user space')
  expectValidation(t, await call(app, s, 'POST', '/processes/1/munmap', { addr: '0x', pages: -1, len: 4096 }), ['body.addr', 'body.pages', 'body'])
  expectValidation(t, await call(app, s, 'POST', '/processes/1/munmap', {}), ['body.addr', 'body.pages'], 'missing fields')
  expectError(t, await call(app, s, 'POST', '/processes/7/munmap', { addr: '0x10000000', pages: 1 }), 404, 'not_found')
  t.equal(await fingerprint(app, s), before, 'nothing changed')
})

t.test('POST /processes/:pid/mprotect: splits the VMA and write-protects the PTEs', async (t) => {
  const { app, s } = await withProcess(t)
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 3 })
  const w = await req(app, s, 'POST', '/processes/1/access', { addr: '0x10001000', op: 'write' })
  t.equal(w.pte.writable, true)
  t.same(await must(t, app, s, 'POST', '/processes/1/mprotect', { addr: '0x10001000', pages: 1, prot: 'r' }), { ok: true })
  const vmas = (await must(t, app, s, 'GET', '/processes/1')).vmaList
  t.same(vmas.map((v: { start: string, end: string, prot: string }) => [v.start, v.end, v.prot]),
    [['0x10000000', '0x10001000', 'rw'], ['0x10001000', '0x10002000', 'r'], ['0x10002000', '0x10003000', 'rw']])
  const pte = await pteAt(app, s, 1, 0x10001000)
  t.equal(pte.pfn, w.pfn, 'the same frame')
  t.equal(pte.writable, false, 'no longer writable')
  const seg = expectError(t, await call(app, s, 'POST', '/processes/1/access', { addr: '0x10001000', op: 'write' }), 422, 'segfault')
  t.equal(seg.details?.siCode, 'SEGV_ACCERR')

  await must(t, app, s, 'POST', '/processes/1/mprotect', { addr: '0x10001000', pages: 1, prot: 'none' })
  const pn = await pteAt(app, s, 1, 0x10001000)
  t.equal(pn.kind, 'protnone', 'PROT_NONE keeps the page mapped but not present')
  t.equal(pn.present, false)
  t.equal(pn.pfn, w.pfn)
})

t.test('mprotect: 400 invalid_argument, 400 validation, 404, 429', async (t) => {
  const { app, s } = await withProcess(t, { maxVmasPerProcess: 2 })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 3 })
  const before = await fingerprint(app, s)
  expectError(t, await call(app, s, 'POST', '/processes/1/mprotect', { addr: '0x10000004', pages: 1, prot: 'r' }), 400, 'invalid_argument', 'unaligned')
  const hole = expectError(t, await call(app, s, 'POST', '/processes/1/mprotect', { addr: '0x10002000', pages: 2, prot: 'r' }), 400, 'invalid_argument', 'a range with a hole')
  t.equal(hole.details?.errno, 'ENOMEM')
  expectValidation(t, await call(app, s, 'POST', '/processes/1/mprotect', { addr: '0x10000000', pages: 1, prot: 'wr' }), ['body.prot'], 'w before r')
  expectValidation(t, await call(app, s, 'POST', '/processes/1/mprotect', { addr: '0x10000000', pages: 1, prot: '' }), ['body.prot'], 'empty prot')
  expectValidation(t, await call(app, s, 'POST', '/processes/1/mprotect', { addr: '0x10000000', pages: 1 }), ['body.prot'], 'prot is required')
  expectError(t, await call(app, s, 'POST', '/processes/3/mprotect', { addr: '0x10000000', pages: 1, prot: 'r' }), 404, 'not_found')
  expectError(t, await call(app, s, 'POST', '/processes/1/mprotect', { addr: '0x10001000', pages: 1, prot: 'r' }), 429, 'limit', 'a split past maxVmasPerProcess')
  t.equal(await fingerprint(app, s), before, 'nothing changed')
})

t.test('POST /processes/:pid/mremap: moves the PTEs (not the data), grows and shrinks', async (t) => {
  const { app, s } = await withProcess(t)
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 3 })
  const a = await req(app, s, 'POST', '/processes/1/access', { addr: '0x10000000', op: 'write' })
  const c = await req(app, s, 'POST', '/processes/1/access', { addr: '0x10002000', op: 'write' })
  const moved = await must(t, app, s, 'POST', '/processes/1/mremap', { addr: '0x10000000', pages: 3, newPages: 5, newAddr: '0x50000000' })
  t.same(moved, { addr: '0x50000000' }, 'the new address in hex')
  t.equal((await pteAt(app, s, 1, 0x50000000)).pfn, a.pfn, 'the first page moved with its frame')
  t.equal((await pteAt(app, s, 1, 0x50002000)).pfn, c.pfn, 'the third too')
  t.equal((await pteAt(app, s, 1, 0x10000000)).kind, 'none', 'nothing left at the old address')
  const v = (await must(t, app, s, 'GET', '/processes/1')).vmaList
  t.same(v.map((x: { start: string, end: string, pgoff: number }) => [x.start, x.end, x.pgoff]), [['0x50000000', '0x50005000', 0x10000]], 'pgoff is kept')
  const rmap = await must(t, app, s, 'GET', `/frames/${a.pfn as number}/rmap`)
  t.same(rmap.mappings.map((m: { addr: string }) => m.addr), ['0x50000000'], 'the rmap finds the moved PTE')

  t.same(await must(t, app, s, 'POST', '/processes/1/mremap', { addr: '0x50000000', pages: 5, newPages: 2 }), { addr: '0x50000000' }, 'shrink in place')
  t.equal((await pteAt(app, s, 1, 0x50002000)).kind, 'none', 'the shrunk-away page is unmapped')
  t.equal((await must(t, app, s, 'GET', `/frames/${c.pfn as number}`)).kind, 'free')
  t.same(await must(t, app, s, 'POST', '/processes/1/mremap', { addr: '0x50000000', pages: 2, newPages: 4, mayMove: false }), { addr: '0x50000000' }, 'grow in place')
  t.equal((await must(t, app, s, 'GET', '/processes/1')).vmaList[0].end, '0x50004000')
})

t.test('mremap: 400 invalid_argument, 400 validation, 404, 429', async (t) => {
  const { app, s } = await withProcess(t)
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 2 })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10002000', pages: 1, prot: 'r' })
  const before = await fingerprint(app, s)
  expectError(t, await call(app, s, 'POST', '/processes/1/mremap', { addr: '0x10000800', pages: 1, newPages: 1 }), 400, 'invalid_argument', 'unaligned')
  const none = expectError(t, await call(app, s, 'POST', '/processes/1/mremap', { addr: '0x70000000', pages: 1, newPages: 2 }), 400, 'invalid_argument', 'no mapping there')
  t.equal(none.details?.errno, 'EFAULT')
  expectError(t, await call(app, s, 'POST', '/processes/1/mremap', { addr: '0x10000000', pages: 2, newPages: 2, newAddr: '0x10001000' }), 400, 'invalid_argument', 'MREMAP_FIXED onto itself')
  expectError(t, await call(app, s, 'POST', '/processes/1/mremap', { addr: '0x10000000', pages: 2, newPages: 3, mayMove: false }), 429, 'limit', 'no room to grow in place without MAYMOVE')
  expectError(t, await call(app, s, 'POST', '/processes/1/mremap', { addr: '0x10000000', pages: 2, newPages: 2 ** 36 }), 429, 'limit', 'no free range that large')
  expectValidation(t, await call(app, s, 'POST', '/processes/1/mremap', { addr: '0x10000000', pages: 2, newPages: 0, newAddr: 'far', mayMove: 'yes' }),
    ['body.newPages', 'body.newAddr', 'body.mayMove'])
  expectValidation(t, await call(app, s, 'POST', '/processes/1/mremap', { addr: '0x10000000' }), ['body.pages', 'body.newPages'], 'missing fields')
  expectError(t, await call(app, s, 'POST', '/processes/2/mremap', { addr: '0x10000000', pages: 1, newPages: 2 }), 404, 'not_found')
  t.equal(await fingerprint(app, s), before, 'nothing changed')
})

t.test('POST /processes/:pid/madvise: MADV_DONTNEED drops the frames; a read then sees the zero page', async (t) => {
  const { app, s } = await withProcess(t)
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 2 })
  const w = await req(app, s, 'POST', '/processes/1/access', { addr: '0x10000000', op: 'write' })
  t.same(await must(t, app, s, 'POST', '/processes/1/madvise', { addr: '0x10000000', pages: 2, advice: 'dontneed' }), { ok: true })
  t.equal((await pteAt(app, s, 1, 0x10000000)).kind, 'none')
  t.equal((await must(t, app, s, 'GET', `/frames/${w.pfn as number}`)).kind, 'free')
  t.equal((await must(t, app, s, 'GET', '/processes/1')).vmas, 1, 'the VMA stays')
  const r = await must(t, app, s, 'POST', '/processes/1/access', { addr: '0x10000000', op: 'read' })
  t.equal(r.path, 'zero_page')
})

t.test('madvise: 400 invalid_argument, 400 validation, 404', async (t) => {
  const { app, s } = await withProcess(t)
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 2 })
  await req(app, s, 'POST', '/processes/1/access', { addr: '0x10000000', op: 'write' })
  const before = await fingerprint(app, s)
  const e = expectError(t, await call(app, s, 'POST', '/processes/1/madvise', { addr: '0x10000000', pages: 3, advice: 'dontneed' }), 400, 'invalid_argument', 'past the mapping')
  t.equal(e.details?.errno, 'ENOMEM')
  expectError(t, await call(app, s, 'POST', '/processes/1/madvise', { addr: '0x10000010', pages: 1, advice: 'dontneed' }), 400, 'invalid_argument', 'unaligned')
  expectValidation(t, await call(app, s, 'POST', '/processes/1/madvise', { addr: '0x10000000', pages: 1, advice: 'willneed' }), ['body.advice'], 'unsupported advice')
  expectValidation(t, await call(app, s, 'POST', '/processes/1/madvise', { addr: '0x10000000', pages: 1 }), ['body.advice'], 'advice is required')
  expectError(t, await call(app, s, 'POST', '/processes/5/madvise', { addr: '0x10000000', pages: 1, advice: 'dontneed' }), 404, 'not_found')
  t.equal(await fingerprint(app, s), before, 'nothing changed')
})
