import t from 'tap'
import { buildTestApp, call, createSession } from '../helper.js'
import { PTE_A, PTE_D, PTE_P, PTE_RW, PTE_SPECIAL, PTE_US, ZERO_PFN, expectError, expectValidation, fingerprint, must, rawPte, req } from './api-helpers.js'

t.test('POST /processes/:pid/access: every fault path, with the PTE before and after', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18')
  await req(app, s, 'POST', '/processes', { name: 'P' })
  await req(app, s, 'POST', '/files', { name: 'lib', pages: 4 })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 4 })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x20000000', pages: 4, file: 'lib' })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x30000000', pages: 2, file: 'lib', shared: true, offset: 2 })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x40000000', pages: 1, prot: 'rx' })

  t.test('zero_page, then zero_page_cow', async (t) => {
    const r = await must(t, app, s, 'POST', '/processes/1/access', { addr: '0x10000000', op: 'read' })
    t.same(r, {
      pid: 1,
      addr: '0x10000000',
      op: 'read',
      path: 'zero_page',
      vmaId: r.vmaId,
      pfn: ZERO_PFN,
      pteBefore: { kind: 'none', raw: '0x0' },
      pte: { kind: 'present', raw: rawPte(ZERO_PFN, PTE_P | PTE_US | PTE_A | PTE_SPECIAL), pfn: ZERO_PFN, present: true, writable: false, user: true, accessed: true, dirty: false, special: true, noExec: true }
    }, 'a read of untouched anonymous memory maps the zero page, read-only and special')
    const w = await must(t, app, s, 'POST', '/processes/1/access', { addr: '0x10000000', op: 'write' })
    t.equal(w.path, 'zero_page_cow')
    t.same(w.pteBefore, r.pte, 'pteBefore is the zero-page PTE')
    t.not(w.pfn, ZERO_PFN)
    t.equal(w.pte.raw, rawPte(w.pfn, PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D), 'present, writable, user, accessed, dirty, NX')
    t.equal(w.pte.special, false)
  })

  t.test('anon_alloc, then no fault', async (t) => {
    const w = await must(t, app, s, 'POST', '/processes/1/access', { addr: '0x10001000', op: 'write' })
    t.equal(w.path, 'anon_alloc')
    t.equal(w.pte.raw, rawPte(w.pfn, PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D))
    const again = await must(t, app, s, 'POST', '/processes/1/access', { addr: '0x10001abc', op: 'read' })
    t.equal(again.path, 'none', 'no fault the second time')
    t.equal(again.addr, '0x10001abc', 'the byte address, in hex')
    t.same(again.pteBefore, again.pte)
  })

  t.test('file_read, private_file_cow (with copiedFrom)', async (t) => {
    const r = await must(t, app, s, 'POST', '/processes/1/access', { addr: '0x20000000', op: 'read' })
    t.equal(r.path, 'file_read')
    t.equal(r.pte.raw, rawPte(r.pfn, PTE_P | PTE_US | PTE_A), 'a private file page is mapped read-only, clean')
    const w = await must(t, app, s, 'POST', '/processes/1/access', { addr: '0x20000000', op: 'write' })
    t.equal(w.path, 'private_file_cow')
    t.equal(w.copiedFrom, r.pfn, 'copied from the page-cache page')
    t.not(w.pfn, r.pfn)
    t.equal(w.pte.writable, true)
    t.equal((await must(t, app, s, 'GET', `/frames/${w.pfn as number}`)).kind, 'anon', 'the copy is anonymous')
  })

  t.test('shared_write, then shared_write_notify after page_mkclean', async (t) => {
    const w = await must(t, app, s, 'POST', '/processes/1/access', { addr: '0x30000000', op: 'write' })
    t.equal(w.path, 'shared_write')
    t.equal(w.pte.raw, rawPte(w.pfn, PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D))
    const file = await must(t, app, s, 'GET', '/files/lib')
    t.ok(file.cache.some((c: { index: number, pfn: number }) => c.index === 2 && c.pfn === w.pfn), 'the page-cache page of index offset + 0')
    await must(t, app, s, 'POST', `/frames/${w.pfn as number}/mkclean`)
    const n = await must(t, app, s, 'POST', '/processes/1/access', { addr: '0x30000000', op: 'write' })
    t.equal(n.path, 'shared_write_notify')
    t.equal(n.pteBefore.writable, false)
    t.equal(n.pteBefore.dirty, false)
    t.equal(n.pte.dirty, true)
  })

  t.test('cow_copy in the child, cow_reuse in the parent', async (t) => {
    const c = await req(app, s, 'POST', '/processes/1/fork', { name: 'C' })
    const shared = await must(t, app, s, 'POST', `/processes/${c.pid as number}/access`, { addr: '0x10001000', op: 'read' })
    t.equal(shared.path, 'none', 'fork copied the PTE')
    t.equal(shared.pte.writable, false, 'write-protected for COW')
    const copy = await must(t, app, s, 'POST', `/processes/${c.pid as number}/access`, { addr: '0x10001000', op: 'write' })
    t.equal(copy.path, 'cow_copy')
    t.equal(copy.copiedFrom, shared.pfn)
    const reuse = await must(t, app, s, 'POST', '/processes/1/access', { addr: '0x10001000', op: 'write' })
    t.equal(reuse.path, 'cow_reuse', 'the parent is the last user: it reuses the frame')
    t.equal(reuse.pfn, shared.pfn)
  })

  t.test('swap_in after try_to_unmap', async (t) => {
    const w = await must(t, app, s, 'POST', '/processes/1/access', { addr: '0x10002000', op: 'write' })
    const u = await must(t, app, s, 'POST', `/frames/${w.pfn as number}/unmap`)
    t.equal(u.success, true)
    const r = await must(t, app, s, 'POST', '/processes/1/access', { addr: '0x10002000', op: 'read' })
    t.equal(r.path, 'swap_in')
    t.equal(r.pteBefore.kind, 'swap')
    t.equal(r.pteBefore.swapOffset, u.swapSlot)
    t.equal(r.pte.kind, 'present')
  })

  t.test('exec of an rx mapping: NX clear', async (t) => {
    const x = await must(t, app, s, 'POST', '/processes/1/access', { addr: '0x40000000', op: 'exec' })
    t.equal(x.pte.noExec, false)
    t.equal(x.pte.raw, rawPte(ZERO_PFN, PTE_P | PTE_US | PTE_A | PTE_SPECIAL, false))
  })

  t.test('the invariants hold', async (t) => {
    const c = await must(t, app, s, 'GET', '/check')
    t.same(c.violations, [])
  })
})

t.test('access: 422 segfault or bus_error, with details, and nothing changes', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18')
  await req(app, s, 'POST', '/processes', { name: 'P' })
  await req(app, s, 'POST', '/files', { name: 'small', pages: 2 })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 2, prot: 'r' })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x20000000', pages: 4, file: 'small' })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x30000000', pages: 1, prot: 'none' })
  await req(app, s, 'POST', '/processes/1/access', { addr: '0x10000000', op: 'read' })
  const before = await fingerprint(app, s)

  const cases: Array<[string, string, string, string, RegExp]> = [
    ['0x50000000', 'read', 'segfault', 'SEGV_MAPERR', /no VMA/],
    ['0x0', 'write', 'segfault', 'SEGV_MAPERR', /no VMA/],
    ['0x10000000', 'write', 'segfault', 'SEGV_ACCERR', /PROT_WRITE/],
    ['0x10001000', 'exec', 'segfault', 'SEGV_ACCERR', /PROT_EXEC/],
    ['0x30000000', 'read', 'segfault', 'SEGV_ACCERR', /PROT_NONE/],
    ['0x20002000', 'read', 'bus_error', 'BUS_ADRERR', /past the end of small/],
    ['0x20003fff', 'write', 'bus_error', 'BUS_ADRERR', /past the end/]
  ]
  for (const [addr, op, code, siCode, reason] of cases) {
    const e = expectError(t, await call(app, s, 'POST', '/processes/1/access', { addr, op }), 422, code, `${op} at ${addr}`)
    t.equal(e.details?.signal, code === 'segfault' ? 'SIGSEGV' : 'SIGBUS')
    t.equal(e.details?.siCode, siCode)
    t.match(e.details?.reason, reason)
    t.equal(e.details?.addr, addr, 'the faulting address in hex')
    t.equal(e.details?.op, op)
    t.equal(e.details?.pid, 1)
    t.match(e.message, new RegExp(`^${e.details?.signal as string} at ${addr}`))
  }
  t.equal(await fingerprint(app, s), before, 'no signal changed the state')
})

t.test('access: 400 validation, 400 for a non-canonical address, 404', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18')
  await req(app, s, 'POST', '/processes', { name: 'P' })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 1 })
  const before = await fingerprint(app, s)
  expectValidation(t, await call(app, s, 'POST', '/processes/1/access', { addr: '-1', op: 'fetch', size: 8 }), ['body.addr', 'body.op', 'body'])
  expectValidation(t, await call(app, s, 'POST', '/processes/1/access', {}), ['body.addr', 'body.op'], 'missing fields')
  for (const addr of ['0x', '0x1g', '0xffff800000000000', '10000000', 1e308, 2 ** 64, 1.5, -1, null, true, ['0x10000000'], { hex: '0x1' }]) {
    expectValidation(t, await call(app, s, 'POST', '/processes/1/access', { addr, op: 'read' }), ['body.addr'], `addr ${JSON.stringify(addr)}`)
  }
  const e = expectError(t, await call(app, s, 'POST', '/processes/1/access', { addr: '0x7ffffffff000', op: 'read' }), 400, 'invalid_argument', 'TASK_SIZE itself')
  t.equal(e.details?.errno, 'EFAULT')
  expectError(t, await call(app, s, 'POST', '/processes/1/access', { addr: '0x800000000000', op: 'read' }), 400, 'invalid_argument', 'a non-canonical address')
  expectError(t, await call(app, s, 'POST', '/processes/2/access', { addr: '0x10000000', op: 'read' }), 404, 'not_found')
  t.equal(await fingerprint(app, s), before, 'nothing changed')
})

t.test('access: 429 when the fault needs a frame past maxFrames; nothing half-done', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18', { maxFrames: 16 })
  await req(app, s, 'POST', '/processes', { name: 'P' })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 32 })
  let res = await call(app, s, 'POST', '/processes/1/access', { addr: '0x10000000', op: 'write' })
  let before = ''
  let i = 0
  while (res.statusCode === 200 && i < 32) {
    i++
    before = await fingerprint(app, s)
    res = await call(app, s, 'POST', '/processes/1/access', { addr: 0x10000000 + i * 4096, op: 'write' })
  }
  t.ok(i > 0 && i < 32, `${i} pages fit`)
  const e = expectError(t, res, 429, 'limit', 'the frame that does not fit')
  t.equal(e.details?.maxFrames, 16)
  t.equal(await fingerprint(app, s), before, 'the refused fault left nothing behind')
  expectError(t, await call(app, s, 'POST', '/processes/1/access', { addr: 0x10000000 + i * 4096, op: 'write' }), 429, 'limit', 'again')
  t.equal(await fingerprint(app, s), before, 'nor did the second try')
  const sum = await must(t, app, s, 'GET', '/')
  t.ok(sum.counts.framesInUse <= 16, 'never more than maxFrames in use')
})
