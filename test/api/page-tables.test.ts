import t from 'tap'
import { buildTestApp, call, createSession } from '../helper.js'
import { PTE_A, PTE_D, HEX, PTE_P, PTE_RW, PTE_US, expectError, expectValidation, must, rawPte, req } from './api-helpers.js'

async function setup (t: Parameters<typeof buildTestApp>[0]) {
  const app = await buildTestApp(t)
  const s = await createSession(app, '6.18')
  await req(app, s, 'POST', '/processes', { name: 'P' })
  await req(app, s, 'POST', '/processes/1/mmap', { addr: '0x10000000', pages: 8 })
  return { app, s }
}

t.test('GET /processes/:pid/translate: the four levels, the frame and the offset', async (t) => {
  const { app, s } = await setup(t)
  const w = await req(app, s, 'POST', '/processes/1/access', { addr: '0x10003000', op: 'write' })
  const tr = await must(t, app, s, 'GET', '/processes/1/translate?addr=0x10003abc')
  t.equal(tr.pid, 1)
  t.equal(tr.addr, '0x10003abc')
  t.equal(tr.offset, 0xabc)
  t.equal(tr.pfn, w.pfn)
  t.type(tr.vmaId, 'number')
  t.same(tr.levels.map((l: { level: string }) => l.level), ['pgd', 'pud', 'pmd', 'pte'])
  // 0x10003abc: pgd index 0, pud index 0, pmd index 0x80 (bits 21-29), pte index 3 (bits 12-20).
  t.same(tr.levels.map((l: { index: number }) => l.index), [0, 0, 0x80, 3])
  for (let i = 0; i < 3; i++) {
    const l = tr.levels[i]
    t.equal(l.next, tr.levels[i + 1].tablePfn, `${l.level} points to the next table`)
    t.equal(l.raw, rawPte(l.next, PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D, false), `${l.level} entry: present, rw, user, accessed, dirty`)
  }
  const last = tr.levels[3]
  t.equal(last.raw, rawPte(w.pfn, PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D))
  t.same(last.pte, w.pte)
  const dec = await must(t, app, s, 'GET', '/processes/1/translate?addr=268450492')
  t.equal(dec.addr, '0x10003abc', 'a decimal address in the query is accepted')

  const hole = await must(t, app, s, 'GET', '/processes/1/translate?addr=0x10004000')
  t.equal(hole.pfn, null, 'no frame behind an untouched page')
  t.equal(hole.levels[3].pte.kind, 'none')
  const outside = await must(t, app, s, 'GET', '/processes/1/translate?addr=0x70000000')
  t.equal(outside.vmaId, null, 'no VMA')
  t.equal(outside.pfn, null)
  t.ok(outside.levels.length < 4, 'the walk stops at the first empty level')
})

t.test('GET /processes/:pid/ptes: present, swap and PROT_NONE entries in order, paged', async (t) => {
  const { app, s } = await setup(t)
  const pfns: number[] = []
  for (let i = 0; i < 6; i++) pfns.push((await req(app, s, 'POST', '/processes/1/access', { addr: 0x10000000 + i * 4096, op: 'write' })).pfn)
  const un = await req(app, s, 'POST', `/frames/${pfns[1]}/unmap`)
  await req(app, s, 'POST', '/processes/1/mprotect', { addr: '0x10002000', pages: 1, prot: 'none' })
  const all = await must(t, app, s, 'GET', '/processes/1/ptes')
  t.same(all.entries.map((e: { addr: string }) => e.addr), ['0x10000000', '0x10001000', '0x10002000', '0x10003000', '0x10004000', '0x10005000'])
  t.equal(all.next, null)
  t.same(all.entries[1].pte, { kind: 'swap', raw: all.entries[1].pte.raw, swapOffset: un.swapSlot, exclusive: true }, 'a swap entry')
  t.match(all.entries[1].pte.raw, HEX)
  t.equal(all.entries[2].pte.kind, 'protnone')
  t.equal(all.entries[2].pte.pfn, pfns[2])
  t.equal(all.entries[0].pte.raw, rawPte(pfns[0], PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D))

  const p1 = await must(t, app, s, 'GET', '/processes/1/ptes?limit=4')
  t.equal(p1.entries.length, 4)
  t.equal(p1.next, '0x10004000', 'next is the first address not returned')
  const p2 = await must(t, app, s, 'GET', `/processes/1/ptes?limit=4&from=${p1.next as string}`)
  t.same(p2.entries.map((e: { addr: string }) => e.addr), ['0x10004000', '0x10005000'])
  t.equal(p2.next, null)
  const range = await must(t, app, s, 'GET', '/processes/1/ptes?from=0x10001000&to=0x10003000')
  t.same(range.entries.map((e: { addr: string }) => e.addr), ['0x10001000', '0x10002000'], '[from, to)')
})

t.test('page tables: 400 validation, 400 invalid_argument, 404', async (t) => {
  const { app, s } = await setup(t)
  for (const addr of ['0x', '0x1g', '-1', '0xffff800000000000', '18446744073709551616', '1e308', 'abc', '0x10000000%20']) {
    expectValidation(t, await call(app, s, 'GET', `/processes/1/translate?addr=${addr}`), ['querystring.addr'], `translate addr=${addr}`)
  }
  expectValidation(t, await call(app, s, 'GET', '/processes/1/translate'), ['querystring.addr'], 'addr is required')
  expectValidation(t, await call(app, s, 'GET', '/processes/1/translate?addr=0x1000&addr=0x2000'), ['querystring.addr'], 'addr twice')
  const e = expectError(t, await call(app, s, 'GET', '/processes/1/translate?addr=0x800000000000'), 400, 'invalid_argument', 'above user space')
  t.equal(e.details?.errno, 'EFAULT')
  expectValidation(t, await call(app, s, 'GET', '/processes/1/ptes?from=0x1g&to=-5&limit=0'), ['querystring.from', 'querystring.to', 'querystring.limit'])
  expectValidation(t, await call(app, s, 'GET', '/processes/1/ptes?limit=4097'), ['querystring.limit'], 'limit over 4096')
  expectValidation(t, await call(app, s, 'GET', '/processes/1/ptes?limit=abc'), ['querystring.limit'], 'limit not a number')
  expectValidation(t, await call(app, s, 'GET', '/processes/x/ptes'), ['params.pid'], 'bad pid')
  expectError(t, await call(app, s, 'GET', '/processes/2/translate?addr=0x10000000'), 404, 'not_found', 'translate: unknown pid')
  expectError(t, await call(app, s, 'GET', '/processes/2/ptes'), 404, 'not_found', 'ptes: unknown pid')
})
