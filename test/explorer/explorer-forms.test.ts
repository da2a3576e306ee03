/**
 * Every operation form of the explorer, run once in a real browser against the real API, each
 * checked by the line its reply gives; a pasted scenario, a malformed one, an operation 2.6.11 did
 * not have, and a session deleted by another client while the page watches it.
 */
import t from 'tap'
import { startRig } from './browser.js'
import { ExplorerPage } from './explorer-page.js'

t.setTimeout(240_000)
const rig = await startRig(t)
const page = await rig.openPage()
const ui = new ExplorerPage(page)
const expected: RegExp[] = []

await t.test('each form calls its route and shows the reply', async (t) => {
  await ui.newSession('6.18')
  const steps: Array<[string, Record<string, string>, RegExp]> = [
    ['spawn', { name: 'p' }, /spawned pid 1 \(p\)/],
    ['mmap', { pid: '1', addr: '0x10000000', pages: '8' }, /mapped VMA #1 0x10000000–0x10008000 rw/],
    ['write', { pid: '1', addr: '0x10000000' }, /write 0x10000000: anon_alloc → PFN \d+/],
    ['read', { pid: '1', addr: '0x10001000' }, /read 0x10001000: zero_page/],
    ['fork', { pid: '1', name: 'child' }, /forked pid 2 \(child\), child of 1/],
    ['mprotect', { pid: '1', addr: '0x10004000', pages: '2', prot: 'r' }, /protection changed/],
    ['madvise', { pid: '2', addr: '0x10000000', pages: '1', advice: 'dontneed' }, /advice applied/],
    ['mlock', { pid: '1', addr: '0x10006000', pages: '1' }, /locked/],
    ['munlock', { pid: '1', addr: '0x10006000', pages: '1' }, /unlocked/],
    ['mremap', { pid: '1', addr: '0x10006000', pages: '2', newPages: '4' }, /now at 0x[0-9a-f]+/],
    ['munmap', { pid: '2', addr: '0x10004000', pages: '1' }, /unmapped/],
    ['mmap', { pid: '1', addr: '0x30000000', pages: '1', prot: 'rx' }, /mapped VMA #\d+ 0x30000000–0x30001000 rx/],
    ['exec', { pid: '1', addr: '0x30000000' }, /exec 0x30000000: \w+/],
    ['create-file', { name: 'data', pages: '4' }, /file data: 4 pages/],
    ['mmap', { pid: '1', addr: '0x20000000', pages: '4', file: 'data', shared: 'true' }, /file data shared/],
    ['write', { pid: '1', addr: '0x20000000' }, /shared_write/],
    ['writeback', { file: 'data' }, /wrote 1 page\(s\), cleaned 1 PTE\(s\)/],
    ['evict', { file: 'data' }, /evicted 0, kept 1/]
  ]
  for (const [op, fields, want] of steps) {
    const line = await ui.run(op, fields)
    t.match(line, want, `${op} ${JSON.stringify(fields)}`)
    t.match(line, /^✓/, `${op} succeeded`)
  }
  const pfn = Number(/PFN (\d+)/.exec(await page.getByTestId('op-log').locator('li', { hasText: 'write 0x10000000: anon_alloc' }).textContent() ?? '')?.[1])
  for (const [op, want] of [['rmap', /1 mapping\(s\): pid 1 0x10000000/], ['referenced', /referenced 1/], ['mkclean', /cleaned 0 PTE\(s\)/], ['migrate', /moved to PFN \d+, 1 PTE\(s\) remapped/]] as const) {
    t.match(await ui.run(op, { pfn: String(pfn) }), want, op)
  }
  t.match(await ui.run('exit', { pid: '2' }), /exited/)
})

await t.test('a pasted scenario is applied through /ops', async (t) => {
  await page.getByText('Paste a scenario').click()
  await page.getByRole('button', { name: 'Insert the example' }).click()
  await page.getByRole('button', { name: 'Apply scenario' }).click()
  await page.getByTestId('log-ok').filter({ hasText: 'scenario: 5 op(s)' }).waitFor()
  t.match(await page.getByTestId('op-log').locator('li').first().textContent(), /applied 5 op\(s\)/)
  await page.getByLabel(/Scenario JSON/).fill('{"ops": [{"op": "spawn"}, oops]')
  await page.getByRole('button', { name: 'Apply scenario' }).click()
  await page.getByTestId('log-error').filter({ hasText: 'not JSON' }).waitFor()
  t.pass('malformed JSON is refused before any request')
  await page.getByLabel(/Scenario JSON/).fill('[{"op": "spawn", "proc": "Q"}, {"op": "write", "proc": "Q", "addr": "0x1000"}]')
  expected.push(/status of 422/, /^response: 422 POST .*\/ops$/)
  await page.getByRole('button', { name: 'Apply scenario' }).click()
  const failed = page.getByTestId('op-log').locator('li').first()
  await failed.filter({ hasText: /batch_failed|failed/ }).waitFor()
  t.match(await failed.textContent(), /SIGSEGV|segfault|failed/)
})

await t.test('an operation 2.6.11 did not have is refused, naming the version', async (t) => {
  await page.getByRole('button', { name: 'Close session' }).click()
  await ui.newSession('2.6.11')
  await ui.run('spawn', {})
  await ui.run('mmap', { pid: '1', addr: '0x10000000', pages: '1' })
  const line = await ui.run('write', { pid: '1', addr: '0x10000000' })
  const pfn = /PFN (\d+)/.exec(line)?.[1] ?? ''
  expected.push(/^response: 422 POST .*\/mkclean$/)
  t.match(await ui.run('mkclean', { pfn }), /^✗.*422 unsupported: .*2\.6\.19/)
})

await t.test('a session deleted by another client: the page says so', async (t) => {
  const id = await page.getByTestId('session-id').textContent() ?? ''
  const token = await ui.token()
  const res = await fetch(`${rig.base}/v1/sessions/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })
  t.equal(res.status, 204)
  await page.getByTestId('link-state').getByText('the session was deleted').waitFor()
  t.pass('the stream reports the deletion and does not reconnect')
})

t.test('no console errors but the failures asked for', async (t) => {
  t.same(rig.problems.filter((p) => !expected.some((re) => re.test(p))), [])
})
