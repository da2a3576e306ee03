import t from 'tap'
import { buildTestApp, call, createSession } from '../helper.js'
import { expectError, expectValidation, fingerprint, must, protFlags, req } from './api-helpers.js'

t.test('POST /processes, GET /processes, GET /processes/:pid', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18')
  const p = await must(t, app, s, 'POST', '/processes', { name: 'init' })
  t.same(p, { pid: 1, name: 'init', parent: null, vmas: 0, rss: { anon: 0, file: 0, shmem: 0, swap: 0 }, pageTablePages: 1 })
  const anon = await must(t, app, s, 'POST', '/processes', {})
  t.equal(anon.pid, 2)
  t.equal(anon.name, null)
  const noBody = await must(t, app, s, 'POST', '/processes')
  t.equal(noBody.pid, 3, 'no body at all spawns an unnamed process')

  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 3 })
  await req(app, s, 'POST', '/processes/1/access', { addr: '0x10001000', op: 'write' })
  const list = await must(t, app, s, 'GET', '/processes')
  t.same(list.processes.map((x: { pid: number }) => x.pid), [1, 2, 3], 'in pid order')
  t.same(list.processes[0].rss, { anon: 1, file: 0, shmem: 0, swap: 0 })
  t.equal(list.processes[0].vmas, 1)
  t.equal(list.processes[0].pageTablePages, 4)

  const d = await must(t, app, s, 'GET', '/processes/1')
  t.equal(d.pid, 1)
  t.equal(d.name, 'init')
  t.equal(d.vmaList.length, 1)
  const v = d.vmaList[0]
  t.equal(v.start, '0x10000000', 'hex start')
  t.equal(v.end, '0x10003000', 'hex end')
  t.equal(v.pages, 3)
  t.equal(v.pgoff, 0x10000, 'anonymous pgoff is start >> 12')
  t.equal(v.prot, 'rw')
  t.same(protFlags(v.flags), ['read', 'write', 'mayread', 'maywrite', 'mayexec'])
  t.equal(v.shared, false)
  t.equal(v.file, null)
  t.equal(v.fileKind, null)
  t.type(v.anonVma, 'number', 'the write fault gave the VMA an anon_vma')
  t.same(v.anonVmaChain, [v.anonVma], '6.18: the VMA is chained to its own anon_vma')

  t.notOk('vmaList' in list.processes[0], 'the plain list has no VMAs')
  const withVmas = await must(t, app, s, 'GET', '/processes?vmas=true')
  t.same(withVmas.processes[0], d, '?vmas=true: each process as GET /processes/:pid gives it')
  t.same(withVmas.processes.map((x: { vmaList: unknown[] }) => x.vmaList.length), [1, 0, 0])
  const bad = await must(t, app, s, 'GET', '/processes?vmas=maybe', undefined, 400)
  t.equal(bad.error.code, 'validation')
})

t.test('POST /processes/:pid/fork: the child copies the VMAs, shares the frames, chains the anon_vmas', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18')
  await req(app, s, 'POST', '/processes', { name: 'P' })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 2 })
  const w = await req(app, s, 'POST', '/processes/1/access', { addr: '0x10000000', op: 'write' })
  const c = await must(t, app, s, 'POST', '/processes/1/fork', { name: 'C' })
  t.equal(c.pid, 2)
  t.equal(c.name, 'C')
  t.equal(c.parent, 1)
  t.equal(c.vmas, 1)
  t.same(c.rss, { anon: 1, file: 0, shmem: 0, swap: 0 })
  const pv = (await must(t, app, s, 'GET', '/processes/1')).vmaList[0]
  const cv = (await must(t, app, s, 'GET', '/processes/2')).vmaList[0]
  t.equal(cv.start, pv.start)
  t.equal(cv.end, pv.end)
  t.not(cv.id, pv.id, 'a new VMA')
  t.not(cv.anonVma, pv.anonVma, '6.18: the child gets its own anon_vma')
  t.same(cv.anonVmaChain, [pv.anonVma, cv.anonVma], "6.18: chained to the parent's anon_vma first")
  const fr = await must(t, app, s, 'GET', `/frames/${w.pfn as number}`)
  t.equal(fr.mapcount, 2, 'the frame is mapped by both')

  const unnamed = await must(t, app, s, 'POST', '/processes/2/fork')
  t.equal(unnamed.parent, 2)
  t.equal(unnamed.name, null)
})

t.test('POST /processes/:pid/exit: 200, then the pid is gone', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18')
  await req(app, s, 'POST', '/processes', { name: 'P' })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 2 })
  const w = await req(app, s, 'POST', '/processes/1/access', { addr: '0x10000000', op: 'write' })
  await req(app, s, 'POST', '/processes/1/fork', { name: 'C' })
  t.same(await must(t, app, s, 'POST', '/processes/2/exit'), { ok: true })
  expectError(t, await call(app, s, 'GET', '/processes/2'), 404, 'not_found', 'GET after exit')
  expectError(t, await call(app, s, 'POST', '/processes/2/exit'), 404, 'not_found', 'exit twice')
  t.equal((await must(t, app, s, 'GET', `/frames/${w.pfn as number}`)).mapcount, 1, "the child's mapping is gone")
  await must(t, app, s, 'POST', '/processes', { name: 'C' }, 201)
  t.same((await must(t, app, s, 'GET', '/processes')).processes.map((p: { name: string }) => p.name), ['P', 'C'], 'the name is free again')
})

t.test('processes: 400 validation for bodies and pids', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app)
  await req(app, s, 'POST', '/processes', { name: 'P' })
  expectValidation(t, await call(app, s, 'POST', '/processes', { name: 'has space', nice: 5 }), ['body.name', 'body'])
  expectValidation(t, await call(app, s, 'POST', '/processes', { name: 'x'.repeat(65) }), ['body.name'], 'a 65-character name')
  expectValidation(t, await call(app, s, 'POST', '/processes', { name: 42 }), ['body.name'], 'a number for a name')
  expectValidation(t, await call(app, s, 'POST', '/processes', { name: '' }), ['body.name'], 'an empty name')
  expectValidation(t, await call(app, s, 'POST', '/processes/1/fork', { name: 'a/b', extra: 1 }), ['body.name', 'body'], 'fork body')
  for (const pid of ['0', '-1', 'abc', '1.5', String(2 ** 31 + 1), '1e400']) {
    expectValidation(t, await call(app, s, 'GET', `/processes/${pid}`), ['params.pid'], `pid ${pid}`)
    expectValidation(t, await call(app, s, 'POST', `/processes/${pid}/fork`, {}), ['params.pid'], `fork pid ${pid}`)
    expectValidation(t, await call(app, s, 'POST', `/processes/${pid}/exit`), ['params.pid'], `exit pid ${pid}`)
  }
  t.equal((await must(t, app, s, 'GET', '/processes')).processes.length, 1, 'nothing was spawned')
})

t.test('processes: 404 for an unknown pid', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app)
  await req(app, s, 'POST', '/processes', { name: 'P' })
  for (const [method, path] of [['GET', '/processes/9'], ['POST', '/processes/9/fork'], ['POST', '/processes/9/exit']] as const) {
    const e = expectError(t, await call(app, s, method, path, method === 'POST' && path.endsWith('fork') ? {} : undefined), 404, 'not_found', `${method} ${path}`)
    t.same(e.details, { errno: 'ESRCH', pid: 9 })
  }
})

t.test('processes: 409 for a name a live process has', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app)
  await req(app, s, 'POST', '/processes', { name: 'P' })
  const before = await fingerprint(app, s)
  const e = expectError(t, await call(app, s, 'POST', '/processes', { name: 'P' }), 409, 'conflict')
  t.equal(e.details?.errno, 'EEXIST')
  expectError(t, await call(app, s, 'POST', '/processes/1/fork', { name: 'P' }), 409, 'conflict', 'a child named like a live process')
  t.equal(await fingerprint(app, s), before, 'nothing changed')
})

t.test('processes: 429 past maxProcesses (spawn and fork), nothing half-made', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18', { maxProcesses: 2 })
  await req(app, s, 'POST', '/processes', { name: 'P' })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 2 })
  await req(app, s, 'POST', '/processes/1/access', { addr: '0x10000000', op: 'write' })
  await req(app, s, 'POST', '/processes/1/fork', { name: 'C' })
  const before = await fingerprint(app, s)
  const e = expectError(t, await call(app, s, 'POST', '/processes', { name: 'X' }), 429, 'limit', 'spawn')
  t.match(e.message, /limit 2/)
  expectError(t, await call(app, s, 'POST', '/processes/1/fork', {}), 429, 'limit', 'fork')
  t.equal(await fingerprint(app, s), before, 'no process, VMA, anon_vma or frame was added')
})

t.test('processes: 429 when a fork needs more frames than maxFrames leaves, nothing half-copied', async (t) => {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18', { maxFrames: 16 })
  await req(app, s, 'POST', '/processes', { name: 'P' })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 16 })
  // Fill the frames: 4 page-table pages plus anonymous pages, until a write is refused.
  let refused = false
  for (let i = 0; i < 16 && !refused; i++) {
    const r = await call(app, s, 'POST', '/processes/1/access', { addr: 0x10000000 + i * 4096, op: 'write' })
    if (r.statusCode === 429) refused = true
  }
  t.ok(refused, 'the frames ran out')
  const before = await fingerprint(app, s)
  const fork = await call(app, s, 'POST', '/processes/1/fork', { name: 'C' })
  expectError(t, fork, 429, 'limit', 'the child needs page-table pages')
  t.equal(await fingerprint(app, s), before, 'no half-made child')
})
