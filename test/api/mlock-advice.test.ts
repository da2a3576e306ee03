import t from 'tap'
import { buildTestApp, call, createSession } from '../helper.js'
import { expectError, must } from './api-helpers.js'

/**
 * The routes of mlock, munlock and the madvise advices beyond dontneed (the engine's rules are in
 * test/sim/unit/mlock.test.ts, populate.test.ts and fork-advice.test.ts).
 */

t.test('POST mlock / munlock: the range is locked and faulted in, mlocked pages show it, munlock undoes it', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18')
  const { pid } = await must(t, app, s, 'POST', '/processes', {}, 201)
  await must(t, app, s, 'POST', `/processes/${String(pid)}/mmap`, { addr: '0x10000000', pages: 3 }, 201)
  t.same(await must(t, app, s, 'POST', `/processes/${String(pid)}/mlock`, { addr: '0x10000000', pages: 2 }), { ok: true })
  const detail = await must(t, app, s, 'GET', `/processes/${String(pid)}`)
  t.same(detail.vmaList.map((v: { start: string, end: string, flags: string[] }) => [v.start, v.end, v.flags.includes('locked')]), [['0x10000000', '0x10002000', true], ['0x10002000', '0x10003000', false]])
  const tr = await must(t, app, s, 'GET', `/processes/${String(pid)}/translate?addr=0x10001000`)
  const frame = await must(t, app, s, 'GET', `/frames/${String(tr.pfn)}`)
  t.ok(frame.flags.includes('mlocked'), 'the faulted-in page is mlocked')
  await must(t, app, s, 'POST', `/processes/${String(pid)}/munlock`, { addr: '0x10000000', pages: 2 })
  t.notOk((await must(t, app, s, 'GET', `/frames/${String(tr.pfn)}`)).flags.includes('mlocked'), 'munlocked')
  expectError(t, await call(app, s, 'POST', `/processes/${String(pid)}/mlock`, { addr: '0x50000000', pages: 1 }), 400, 'invalid_argument', 'mlock of an unmapped range (ENOMEM)')
  expectError(t, await call(app, s, 'POST', `/processes/${String(pid)}/mlock`, { addr: '0x10000000' }), 400, 'validation', 'mlock without pages')
  const j = await must(t, app, s, 'GET', '/journal')
  t.same(j.ops.slice(-2).map((o: { op: string }) => o.op), ['mlock', 'munlock'], 'journaled')
})

t.test('POST madvise: the fork and populate advices on 6.18; 422 unsupported on 2.6.11', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18')
  const { pid } = await must(t, app, s, 'POST', '/processes', {}, 201)
  await must(t, app, s, 'POST', `/processes/${String(pid)}/mmap`, { addr: '0x10000000', pages: 2 }, 201)
  await must(t, app, s, 'POST', `/processes/${String(pid)}/madvise`, { addr: '0x10000000', pages: 2, advice: 'populate_write' })
  await must(t, app, s, 'POST', `/processes/${String(pid)}/madvise`, { addr: '0x10001000', pages: 1, advice: 'dontfork' })
  const child = await must(t, app, s, 'POST', `/processes/${String(pid)}/fork`, {}, 201)
  t.equal(child.vmas, 1, 'the child lacks the DONTCOPY VMA')
  expectError(t, await call(app, s, 'POST', `/processes/${String(pid)}/madvise`, { addr: '0x10000000', pages: 1, advice: 'willneed' }), 400, 'validation', 'an advice the simulator does not model')
  const old = await createSession(app, '2.6.11')
  const p2 = (await must(t, app, old, 'POST', '/processes', {}, 201)).pid
  await must(t, app, old, 'POST', `/processes/${String(p2)}/mmap`, { addr: '0x10000000', pages: 1 }, 201)
  const e = expectError(t, await call(app, old, 'POST', `/processes/${String(p2)}/madvise`, { addr: '0x10000000', pages: 1, advice: 'wipeonfork' }), 422, 'unsupported')
  t.match(e.message, /MADV_WIPEONFORK.*2\.6\.11.*4\.14/)
  t.same(e.details?.addedIn, '4.14')
})
