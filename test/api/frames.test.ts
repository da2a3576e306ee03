import t from 'tap'
import { buildTestApp, call, createSession, type TestContext } from '../helper.js'
import { HEX, ZERO_PFN, expectError, expectValidation, fingerprint, must, pteAt, req } from './api-helpers.js'

/** P writes an anonymous page and reads a shared file page, forks C, C reads the file page too. */
async function world (t: TestContext, kernel: '2.6.11' | '6.18' = '6.18', limits?: Record<string, number>) {
  const app = await buildTestApp(t)
  const s = await createSession(app, kernel, limits)
  await req(app, s, 'POST', '/processes', { name: 'P' })
  await req(app, s, 'POST', '/files', { name: 'lib', pages: 4 })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 2 })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x20000000', pages: 2, file: 'lib', shared: true })
  const anon = (await req(app, s, 'POST', '/processes/1/access', { addr: '0x10000000', op: 'write' })).pfn as number
  const file = (await req(app, s, 'POST', '/processes/1/access', { addr: '0x20001000', op: 'read' })).pfn as number
  await req(app, s, 'POST', '/processes/1/fork', { name: 'C' })
  await req(app, s, 'POST', '/processes/2/access', { addr: '0x20001000', op: 'read' })
  return { app, s, anon, file }
}

t.test('GET /frames/:pfn: struct page counters, flags and the tagged mapping', async (t) => {
  for (const kernel of ['6.18', '2.6.11'] as const) {
    t.test(kernel, async (t) => {
      const { app, s, anon, file } = await world(t, kernel)
      const bias = kernel === '2.6.11' ? -1 : 0
      const a = await must(t, app, s, 'GET', `/frames/${anon}`)
      t.equal(a.pfn, anon)
      t.equal(a.kind, 'anon')
      // 2.6.11 do_anonymous_page(): lru_cache_add_active() and SetPageReferenced(); it has no PG_swapbacked.
      t.same(a.flags, kernel === '2.6.11' ? ['referenced', 'uptodate', 'lru', 'active'] : ['uptodate', 'lru', 'swapbacked'])
      t.equal(a.refcount, 2, 'two references (one per mapping)')
      t.equal(a.countBias, bias)
      t.equal(a._count, 2 + bias, kernel === '2.6.11' ? '_count keeps the -1 bias' : '_count is the refcount')
      t.equal(a.mapcount, 2, 'mapped by P and C')
      t.equal(a._mapcount, 1, '_mapcount is mapcount - 1')
      t.equal(a.index, 0x10000, 'index: the page offset in the anon_vma (vm_pgoff)')
      t.match(a.mapping.raw, HEX)
      t.equal(BigInt(a.mapping.raw) & 1n, 1n, 'PAGE_MAPPING_ANON set')
      t.equal(a.mapping.anon, true)
      t.equal(a.mapping.kind, 'anon_vma')
      t.equal(a.mapping.live, true)
      t.equal(a.swapSlot, null)

      const f = await must(t, app, s, 'GET', `/frames/${file}`)
      t.equal(f.kind, 'file')
      t.equal(f.mapcount, 2)
      t.equal(f.refcount, 3, 'two mappings and the page cache')
      t.equal(f._count, 3 + bias)
      t.equal(f.index, 1, 'page 1 of the file')
      t.equal(BigInt(f.mapping.raw) & 1n, 0n, 'PAGE_MAPPING_ANON clear')
      t.equal(f.mapping.kind, 'address_space')
      t.equal(f.mapping.name, 'lib')

      const z = await must(t, app, s, 'GET', `/frames/${ZERO_PFN}`)
      t.equal(z.kind, 'zero')
      t.ok(z.flags.includes('reserved'))
      t.equal(z.mapcount, 0)
      t.equal(z._mapcount, -1)
      t.equal(z.mapping.kind, 'none')
      t.equal(z.mapping.raw, '0x0')
    })
  }
})

t.test('GET /frames: filters (kind, mapped, file) and paging (limit, after, next)', async (t) => {
  const { app, s, anon, file } = await world(t)
  const all = await must(t, app, s, 'GET', '/frames')
  t.equal(all.next, null)
  const pfns = all.frames.map((f: { pfn: number }) => f.pfn)
  t.same(pfns, [...pfns].sort((x: number, y: number) => x - y), 'in PFN order')
  t.equal(pfns[0], ZERO_PFN, 'the zero page first')
  t.notOk(all.frames.some((f: { kind: string }) => f.kind === 'free'), 'free frames are not listed')
  const sum = await must(t, app, s, 'GET', '/')
  t.equal(all.frames.length, sum.counts.framesInUse + 1, 'every frame in use, plus the zero page')

  t.same((await must(t, app, s, 'GET', '/frames?kind=anon')).frames.map((f: { pfn: number }) => f.pfn), [anon])
  t.same((await must(t, app, s, 'GET', '/frames?kind=file')).frames.map((f: { pfn: number }) => f.pfn), [file])
  t.same((await must(t, app, s, 'GET', '/frames?file=lib')).frames.map((f: { pfn: number }) => f.pfn), [file])
  t.same((await must(t, app, s, 'GET', '/frames?mapped=true')).frames.map((f: { pfn: number }) => f.pfn), [anon, file].sort((x, y) => x - y))
  const unmapped = (await must(t, app, s, 'GET', '/frames?mapped=false')).frames
  t.ok(unmapped.every((f: { mapcount: number }) => f.mapcount === 0))
  t.ok(unmapped.some((f: { kind: string }) => f.kind === 'pagetable'))

  const p1 = await must(t, app, s, 'GET', '/frames?limit=3')
  t.equal(p1.frames.length, 3)
  t.equal(p1.next, p1.frames[2].pfn, 'next is the last PFN returned')
  const p2 = await must(t, app, s, 'GET', `/frames?limit=1024&after=${p1.next as number}`)
  t.same([...p1.frames, ...p2.frames].map((f: { pfn: number }) => f.pfn), pfns, 'the pages add up to the whole list')
  t.equal(p2.next, null)

  expectError(t, await call(app, s, 'GET', '/frames?file=nope'), 404, 'not_found', 'an unknown file')
  expectValidation(t, await call(app, s, 'GET', '/frames?kind=bogus&mapped=yes&limit=0&after=-1'), ['querystring.kind', 'querystring.mapped', 'querystring.limit', 'querystring.after'])
  expectValidation(t, await call(app, s, 'GET', '/frames?limit=1025'), ['querystring.limit'])
})

t.test('GET /frames/:pfn/rmap: every mapping, and ?trace=true steps', async (t) => {
  for (const kernel of ['6.18', '2.6.11'] as const) {
    t.test(kernel, async (t) => {
      const { app, s, anon, file } = await world(t, kernel)
      const r = await must(t, app, s, 'GET', `/frames/${anon}/rmap`)
      t.equal(r.pfn, anon)
      t.equal(r.kind, 'anon')
      t.equal(r.model, kernel)
      t.same(r.mappings.map((m: { pid: number, addr: string }) => [m.pid, m.addr]), [[1, '0x10000000'], [2, '0x10000000']])
      for (const m of r.mappings) {
        t.equal(m.pte.pfn, anon)
        t.equal(m.pte.writable, false, 'COW-protected after fork')
        t.same(m.pte, await pteAt(app, s, m.pid, 0x10000000), 'the PTE translate shows')
      }
      t.equal(r.trace, undefined, 'no trace unless asked')

      const tr = await must(t, app, s, 'GET', `/frames/${anon}/rmap?trace=true`)
      t.same(tr.mappings, r.mappings)
      const steps = tr.trace.map((x: { step: string }) => x.step)
      t.equal(steps[0], 'page')
      t.equal(steps[1], 'object')
      t.equal(steps[steps.length - 1], 'done')
      t.ok(tr.trace.every((x: { note: string }) => typeof x.note === 'string' && x.note.length > 0), 'each step has a note')
      t.equal(tr.trace[0].mapping.kind, 'anon_vma')
      t.match(tr.trace[1].structure, kernel === '6.18' ? /interval tree/ : /list/)
      const vmaSteps = tr.trace.filter((x: { step: string }) => x.step === 'vma')
      t.equal(vmaSteps.length, 2, 'one step per VMA visited')
      for (const v of vmaSteps) {
        t.equal(v.addr, '0x10000000')
        t.match(v.start, HEX)
        t.match(v.end, HEX)
        t.match(v.formula, /vm_start \+ \(index - vm_pgoff\) \* PAGE_SIZE = 0x10000000/)
        t.equal(v.outcome, 'matched')
        t.same(v.levels.map((l: { level: string }) => l.level), ['pgd', 'pud', 'pmd', 'pte'])
        t.ok(v.levels.every((l: { raw: string }) => HEX.test(l.raw)), 'level entries in hex')
        const walk = await must(t, app, s, 'GET', `/processes/${v.pid as number}/translate?addr=0x10000000`)
        t.same(v.levels, walk.levels, 'the walk the trace shows is the one translate shows')
        const mine = r.mappings.find((m: { pid: number }) => m.pid === v.pid)
        t.equal(v.levels[3].raw, mine.pte.raw, 'the PTE the walk found is the mapping the reply lists')
      }
      t.equal(tr.trace[tr.trace.length - 1].matched, 2)
      const one = await must(t, app, s, 'GET', `/frames/${anon}/rmap?trace=1`)
      t.ok(Array.isArray(one.trace), 'trace=1 works too')

      const fr = await must(t, app, s, 'GET', `/frames/${file}/rmap?trace=true`)
      t.equal(fr.kind, 'file')
      t.same(fr.mappings.map((m: { pid: number, addr: string }) => [m.pid, m.addr]), [[1, '0x20001000'], [2, '0x20001000']])
      t.equal(fr.trace[0].mapping.name, 'lib')
      t.match(fr.trace[1].structure, /i_mmap/)
    })
  }
})

t.test('POST /frames/:pfn/referenced, unmap, mkclean, migrate', async (t) => {
  t.test('page_referenced tests and clears the young bits', async (t) => {
    const { app, s, anon } = await world(t)
    t.same(await must(t, app, s, 'POST', `/frames/${anon}/referenced`), { referenced: 1, ptes: 2 }, "only P's PTE is young (fork copies it old)")
    t.same(await must(t, app, s, 'POST', `/frames/${anon}/referenced`), { referenced: 0, ptes: 2 }, 'cleared by the first call')
    t.equal((await pteAt(app, s, 1, 0x10000000)).accessed, false)
  })
  t.test('try_to_unmap of an anonymous page: swap entries in every mapper', async (t) => {
    const { app, s, anon } = await world(t)
    const u = await must(t, app, s, 'POST', `/frames/${anon}/unmap`)
    t.equal(u.success, true)
    t.equal(u.unmapped, 2)
    t.equal(u.freed, true)
    t.equal(u.dirty, true)
    t.type(u.swapSlot, 'number')
    for (const pid of [1, 2]) {
      const p = await pteAt(app, s, pid, 0x10000000)
      t.equal(p.kind, 'swap', `pid ${pid}: a swap entry`)
      t.equal(p.swapOffset, u.swapSlot)
    }
    t.equal((await must(t, app, s, 'GET', `/frames/${anon}`)).kind, 'free')
    t.equal((await must(t, app, s, 'GET', '/')).counts.swapSlotsUsed, 1)
    t.equal((await must(t, app, s, 'GET', '/processes/1')).rss.swap, 1)
  })
  t.test('try_to_unmap of a file page: the PTEs go, the page stays cached', async (t) => {
    const { app, s, file } = await world(t)
    const u = await must(t, app, s, 'POST', `/frames/${file}/unmap`)
    t.same(u, { unmapped: 2, success: true, freed: false, dirty: false })
    t.equal((await pteAt(app, s, 1, 0x20001000)).kind, 'none')
    const f = await must(t, app, s, 'GET', `/frames/${file}`)
    t.equal(f.mapcount, 0)
    t.equal(f.refcount, 1, 'only the page cache holds it')
  })
  t.test('page_mkclean write-protects and cleans the shared mappings', async (t) => {
    const { app, s } = await world(t)
    const w = await req(app, s, 'POST', '/processes/1/access', { addr: '0x20000000', op: 'write' })
    t.same(await must(t, app, s, 'POST', `/frames/${w.pfn as number}/mkclean`), { cleaned: 1, wasDirty: true })
    const p = await pteAt(app, s, 1, 0x20000000)
    t.equal(p.writable, false)
    t.equal(p.dirty, false)
    t.notOk((await must(t, app, s, 'GET', `/frames/${w.pfn as number}`)).flags.includes('dirty'), 'written back')
    t.same(await must(t, app, s, 'POST', `/frames/${w.pfn as number}/mkclean`), { cleaned: 0, wasDirty: false })
  })
  t.test('migrate moves the page to a new frame and remaps every PTE', async (t) => {
    const { app, s, anon } = await world(t)
    const m = await must(t, app, s, 'POST', `/frames/${anon}/migrate`)
    t.equal(m.remapped, 2)
    t.not(m.newPfn, anon)
    t.equal((await must(t, app, s, 'GET', `/frames/${anon}`)).kind, 'free', 'the old frame is freed')
    const nf = await must(t, app, s, 'GET', `/frames/${m.newPfn as number}`)
    t.equal(nf.kind, 'anon')
    t.equal(nf.mapcount, 2)
    t.equal(nf.index, 0x10000, 'index kept')
    for (const pid of [1, 2]) t.equal((await pteAt(app, s, pid, 0x10000000)).pfn, m.newPfn)
    const r = await must(t, app, s, 'GET', `/frames/${m.newPfn as number}/rmap`)
    t.same(r.mappings.map((x: { pid: number, addr: string }) => [x.pid, x.addr]), [[1, '0x10000000'], [2, '0x10000000']])
    t.same((await must(t, app, s, 'GET', '/check')).violations, [])
  })
})

t.test('frames: 404 unknown PFN, 400 bad PFN, 422 untracked frames, 429 swap full; nothing changes', async (t) => {
  const { app, s, anon } = await world(t, '6.18', { maxSwapSlots: 1 })
  const before = await fingerprint(app, s)
  const routes: Array<['GET' | 'POST', string]> = [['GET', ''], ['GET', '/rmap'], ['POST', '/referenced'], ['POST', '/unmap'], ['POST', '/mkclean'], ['POST', '/migrate']]
  for (const [method, suffix] of routes) {
    const e = expectError(t, await call(app, s, method, `/frames/999999${suffix}`), 404, 'not_found', `${method} /frames/999999${suffix}`)
    t.equal(e.details?.errno, 'ENOENT')
    t.equal(e.details?.pfn, 999999)
    expectError(t, await call(app, s, method, `/frames/0${suffix}`), 404, 'not_found', `${method} /frames/0${suffix}: below the first PFN`)
    for (const bad of ['abc', '-1', '1.5', String(2 ** 40 + 1), '1e400']) {
      expectValidation(t, await call(app, s, method, `/frames/${bad}${suffix}`), ['params.pfn'], `${method} /frames/${bad}${suffix}`)
    }
  }
  expectValidation(t, await call(app, s, 'GET', `/frames/${anon}/rmap?trace=yes`), ['querystring.trace'], 'trace=yes')
  const pt = (await must(t, app, s, 'GET', '/frames?kind=pagetable&limit=1')).frames[0].pfn as number
  for (const op of ['referenced', 'unmap', 'mkclean', 'migrate']) {
    const z = expectError(t, await call(app, s, 'POST', `/frames/${ZERO_PFN}/${op}`), 422, 'unsupported', `${op} of the zero page`)
    t.equal(z.details?.kind, 'zero')
    expectError(t, await call(app, s, 'POST', `/frames/${pt}/${op}`), 422, 'unsupported', `${op} of a page-table page`)
  }
  t.equal(await fingerprint(app, s), before, 'no refused request changed anything')

  await req(app, s, 'POST', '/processes/1/access', { addr: '0x10001000', op: 'write' })
  await must(t, app, s, 'POST', `/frames/${anon}/unmap`)
  const second = (await req(app, s, 'GET', '/processes/1/translate?addr=0x10001000')).pfn as number
  const before2 = await fingerprint(app, s)
  const e = expectError(t, await call(app, s, 'POST', `/frames/${second}/unmap`), 429, 'limit', 'swap is full')
  t.match(e.message, /swap is full/)
  t.equal(await fingerprint(app, s), before2, 'the refused swap-out changed nothing')
  expectError(t, await call(app, s, 'POST', `/frames/${anon}/unmap`), 422, 'unsupported', 'a freed frame')
})

t.test('frames: a blank PFN is a validation error, not PFN 0', async (t) => {
  const { app, s } = await world(t)
  expectValidation(t, await call(app, s, 'GET', '/frames/%20'), ['params.pfn'], 'GET /frames/%20')
  expectValidation(t, await call(app, s, 'POST', '/frames/%20/unmap'), ['params.pfn'], 'POST /frames/%20/unmap')
})
