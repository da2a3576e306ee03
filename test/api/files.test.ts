import t from 'tap'
import { buildTestApp, call, createSession } from '../helper.js'
import { expectError, expectValidation, fingerprint, must, req } from './api-helpers.js'

t.test('POST /files, GET /files, GET /files/:name: the page cache and i_mmap', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18')
  const f = await must(t, app, s, 'POST', '/files', { name: 'lib', pages: 4 })
  t.same(f, { name: 'lib', kind: 'file', pages: 4, cached: 0 })
  await must(t, app, s, 'POST', '/files', { name: 'a-data.bin', pages: 1 })
  const list = await must(t, app, s, 'GET', '/files')
  t.same(list.files.map((x: { name: string }) => x.name), ['a-data.bin', 'lib'], 'sorted by name')

  const empty = await must(t, app, s, 'GET', '/files/lib')
  t.same(empty, { name: 'lib', kind: 'file', pages: 4, cached: 0, cache: [], immap: [] })

  await req(app, s, 'POST', '/processes', { name: 'P' })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x20000000', pages: 4, file: 'lib' })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x30000000', pages: 2, file: 'lib', shared: true, offset: 2 })
  const r0 = await req(app, s, 'POST', '/processes/1/access', { addr: '0x20000000', op: 'read' })
  const r1 = await req(app, s, 'POST', '/processes/1/access', { addr: '0x20001000', op: 'read' })
  const w2 = await req(app, s, 'POST', '/processes/1/access', { addr: '0x30000000', op: 'write' })
  t.equal(w2.path, 'shared_write')

  const d = await must(t, app, s, 'GET', '/files/lib')
  t.equal(d.cached, 3)
  t.same(d.cache, [
    { index: 0, pfn: r0.pfn, mapcount: 1, dirty: false },
    { index: 1, pfn: r1.pfn, mapcount: 1, dirty: false },
    { index: 2, pfn: w2.pfn, mapcount: 1, dirty: true }
  ])
  t.same(d.immap.map((v: Record<string, unknown>) => ({ ...v, vmaId: undefined })), [
    { pid: 1, vmaId: undefined, start: '0x20000000', end: '0x20004000', pgoff: 0, shared: false },
    { pid: 1, vmaId: undefined, start: '0x30000000', end: '0x30002000', pgoff: 2, shared: true }
  ], 'i_mmap: both VMAs with hex bounds and pgoff')
  const listed = (await must(t, app, s, 'GET', '/files')).files.find((x: { name: string }) => x.name === 'lib')
  t.equal(listed.cached, 3)
})

t.test('POST /files/:name/evict: clean unmapped pages go, mapped or dirty ones stay', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18')
  await req(app, s, 'POST', '/files', { name: 'lib', pages: 4 })
  await req(app, s, 'POST', '/processes', { name: 'P' })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x20000000', pages: 2, file: 'lib' })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x30000000', pages: 1, file: 'lib', shared: true, offset: 2 })
  const r0 = await req(app, s, 'POST', '/processes/1/access', { addr: '0x20000000', op: 'read' })
  const r1 = await req(app, s, 'POST', '/processes/1/access', { addr: '0x20001000', op: 'read' })
  const w2 = await req(app, s, 'POST', '/processes/1/access', { addr: '0x30000000', op: 'write' })
  await req(app, s, 'POST', '/processes/1/munmap', { addr: '0x20000000', pages: 1 })
  await req(app, s, 'POST', '/processes/1/munmap', { addr: '0x30000000', pages: 1 })

  const ev = await must(t, app, s, 'POST', '/files/lib/evict')
  t.same(ev.evicted, [{ index: 0, pfn: r0.pfn }], 'the clean, unmapped page is evicted')
  t.same(ev.kept.map((k: { index: number, pfn: number }) => [k.index, k.pfn]), [[1, r1.pfn], [2, w2.pfn]])
  t.match(ev.kept[0].why, /mapped/, 'kept because it is mapped')
  t.match(ev.kept[1].why, /dirty/, 'kept because it is dirty')
  const fr = await must(t, app, s, 'GET', `/frames/${r0.pfn as number}`)
  t.equal(fr.kind, 'free', 'the evicted frame is free')
  t.equal((await must(t, app, s, 'GET', '/files/lib')).cached, 2)

  const again = await must(t, app, s, 'POST', '/files/lib/evict')
  t.same(again.evicted, [], 'nothing more to evict')
})

t.test('POST /files: 400 validation lists the bad fields', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app)
  expectValidation(t, await call(app, s, 'POST', '/files', { name: 'a/b', pages: 0, mode: 'rw' }), ['body.name', 'body.pages', 'body'])
  expectValidation(t, await call(app, s, 'POST', '/files', {}), ['body.name', 'body.pages'], 'missing fields')
  expectValidation(t, await call(app, s, 'POST', '/files', { name: 7, pages: '4' }), ['body.name', 'body.pages'], 'wrong types')
  expectValidation(t, await call(app, s, 'POST', '/files', { name: 'x'.repeat(256), pages: 1.5 }), ['body.name', 'body.pages'], 'too long, not an integer')
  expectValidation(t, await call(app, s, 'POST', '/files', { name: '', pages: 2 ** 31 }), ['body.name', 'body.pages'], 'empty, too big')
  t.equal((await must(t, app, s, 'GET', '/files')).files.length, 0, 'nothing was created')
})

t.test('POST /files: 409 for a duplicate name, 429 past maxFiles or maxFilePages', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18', { maxFiles: 2, maxFilePages: 8 })
  await must(t, app, s, 'POST', '/files', { name: 'lib', pages: 8 })
  const before = await fingerprint(app, s)
  const dup = expectError(t, await call(app, s, 'POST', '/files', { name: 'lib', pages: 1 }), 409, 'conflict')
  t.equal(dup.details?.errno, 'EEXIST')
  t.equal(dup.details?.name, 'lib')
  const big = expectError(t, await call(app, s, 'POST', '/files', { name: 'big', pages: 9 }), 429, 'limit', 'more pages than maxFilePages')
  t.match(big.message, /at most 8 pages/)
  t.equal(await fingerprint(app, s), before, 'refused requests changed nothing')
  await must(t, app, s, 'POST', '/files', { name: 'two', pages: 1 })
  expectError(t, await call(app, s, 'POST', '/files', { name: 'three', pages: 1 }), 429, 'limit', 'a third file past maxFiles')
  t.equal((await must(t, app, s, 'GET', '/files')).files.length, 2)
})

t.test('GET /files/:name and POST /files/:name/evict: 404 for an unknown file, 400 for a bad name', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app)
  const e = expectError(t, await call(app, s, 'GET', '/files/nope'), 404, 'not_found')
  t.same(e.details, { errno: 'ENOENT', name: 'nope' })
  expectError(t, await call(app, s, 'POST', '/files/nope/evict'), 404, 'not_found')
  expectError(t, await call(app, s, 'GET', '/files/..%2F..%2Fetc%2Fpasswd'), 404, 'not_found', 'an encoded path is just a name')
  expectError(t, await call(app, s, 'GET', '/files/%00'), 404, 'not_found', 'a NUL name')
  expectValidation(t, await call(app, s, 'GET', `/files/${'n'.repeat(256)}`), ['params.name'], 'a 256-character name')
})
