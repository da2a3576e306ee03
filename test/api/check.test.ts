import t from 'tap'
import { buildTestApp, call, createSession } from '../helper.js'
import { expectError, must, req } from './api-helpers.js'

t.test('GET /check: the invariant report counts what it checked', async (t) => {
  for (const kernel of ['6.18', '2.6.11'] as const) {
    t.test(kernel, async (t) => {
      const app = await buildTestApp(t)
      const s = await createSession(app, kernel)
      const empty = await must(t, app, s, 'GET', '/check')
      t.same(empty, { ok: true, violations: [], checked: { frames: 0, ptes: 0, swapEntries: 0, vmas: 0, anonVmas: 0, walks: 0 } }, 'an empty machine')

      await req(app, s, 'POST', '/processes', { name: 'P' })
      await req(app, s, 'POST', '/files', { name: 'lib', pages: 2 })
      await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 2 })
      await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x20000000', pages: 2, file: 'lib', shared: true })
      const a = await req(app, s, 'POST', '/processes/1/access', { addr: '0x10000000', op: 'write' })
      await req(app, s, 'POST', '/processes/1/access', { addr: '0x10001000', op: 'write' })
      await req(app, s, 'POST', '/processes/1/access', { addr: '0x20000000', op: 'read' })
      await req(app, s, 'POST', '/processes/1/fork', { name: 'C' })
      await req(app, s, 'POST', `/frames/${a.pfn as number}/unmap`)
      if (kernel === '2.6.11') await req(app, s, 'POST', `/frames/${a.pfn as number}/unmap`) // the first try only clears the young bit

      const c = await must(t, app, s, 'GET', '/check')
      t.equal(c.ok, true)
      t.same(c.violations, [])
      const sum = await must(t, app, s, 'GET', '/')
      t.equal(c.checked.vmas, sum.counts.vmas, 'every VMA')
      t.equal(c.checked.anonVmas, sum.counts.anonVmas, 'every anon_vma')
      t.equal(c.checked.swapEntries, 2, 'the swap entries of P and C')
      t.ok(c.checked.ptes >= 3, 'the present PTEs')
      t.ok(c.checked.frames > 0)
      t.ok(c.checked.walks > 0, 'rmap walks were replayed')
    })
  }
})

t.test('GET /check: 401 and 404 like every session route', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app)
  expectError(t, await app.inject({ method: 'GET', url: `${s.base}/check` }), 401, 'unauthorized')
  await call(app, s, 'DELETE', '/')
  expectError(t, await call(app, s, 'GET', '/check'), 404, 'not_found')
})
