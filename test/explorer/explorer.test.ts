/**
 * The explorer in a real browser (Debian's Chromium through playwright-core) against a real server:
 * the story a student follows (a session, mmap, write, fork, the frame's diagram with both mappings,
 * stepping through the walk both ways, a COW write by another client arriving live and splitting the
 * frame, going back in time, a SIGSEGV shown as the API gives it, a shared link), and no console
 * errors anywhere. Screenshots of the main views are written to test-output/explorer.
 */
import t from 'tap'
import { ExplorerPage } from './explorer-page.js'
import { startRig } from './browser.js'

t.setTimeout(240_000)
const rig = await startRig(t)
const page = await rig.openPage()
const ui = new ExplorerPage(page)
/** Console errors the test caused on purpose: the browser logs a failed fetch (the SIGSEGV's 422). */
const expected: RegExp[] = []

/** An API call made by "another client": plain HTTP, not the browser. */
async function other (sessionId: string, token: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${rig.base}/v1/sessions/${sessionId}${path}`, {
    method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body)
  })
  return await res.json() as Record<string, unknown>
}

let sid = ''
let token = ''

await t.test('the page is served by the server under a strict CSP, with no API entry for it', async (t) => {
  const res = await fetch(rig.base + '/')
  t.equal(res.status, 200)
  t.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self'/)
  t.match(await res.text(), /<script type="module" src="\/explorer\/explorer.js">/)
  const js = await fetch(rig.base + '/explorer/explorer.js')
  t.equal(js.status, 200)
  t.match(js.headers.get('content-type') ?? '', /javascript/)
  const doc = await (await fetch(rig.base + '/docs/json')).json() as { paths: Record<string, unknown> }
  t.notOk(Object.keys(doc.paths).some((p) => p === '/' || p.startsWith('/explorer')), 'the explorer is not part of the API')
})

await t.test('create a session, mmap, write, fork from the forms', async (t) => {
  sid = await ui.newSession('6.18')
  t.match(sid, /^[A-Za-z0-9_-]+$/)
  token = await ui.token()
  t.ok(token.length > 20, 'the token is shown on demand')
  t.match(await ui.run('spawn', { name: 'parent' }), /spawned pid 1 \(parent\)/)
  t.match(await ui.run('mmap', { pid: '1', addr: '0x10000000', pages: '4' }), /mapped VMA #1 0x10000000–0x10004000 rw/)
  t.match(await ui.run('write', { pid: '1', addr: '0x10000000' }), /anon_alloc → PFN 4101/)
  t.match(await ui.run('fork', { pid: '1' }), /forked pid 2, child of 1/)
  await page.getByTestId('process-2').waitFor()
  await rig.shot(page, 'processes')
})

await t.test('the frame diagram shows both mappings, with the formula and four levels', async (t) => {
  await ui.selectFrame(4101)
  await ui.expectMappings(2)
  const d = page.getByTestId('diagram')
  await d.getByTestId('object-box').getByRole('heading', { name: 'anon_vma #1' }).waitFor()
  t.match(await d.getByTestId('struct-page').textContent(), /_mapcount\s*1 \(mapcount 2\)/)
  t.match(await d.getByTestId('struct-page').textContent(), /bit 0 \(PAGE_MAPPING_ANON\) set: anon_vma #1/)
  const rows = d.getByTestId('walk-row')
  t.equal(await rows.count(), 2)
  for (const pid of [1, 2]) {
    const row = rows.filter({ hasText: `pid ${pid} · VMA #${pid}` })
    t.match(await row.textContent(), /vm_start \+ \(index - vm_pgoff\) \* PAGE_SIZE = 0x10000000 \+ \(65536 - 65536\) \* 4096 = 0x10000000/)
    t.match(await row.textContent(), /pgd.*pud.*pmd.*pte.*PFN 4101/)
    t.match(await row.textContent(), /✓ maps this page/)
  }
  await rig.shot(page, 'frame-diagram')
})

await t.test('step through the walk, backwards and forwards', async (t) => {
  t.match(await ui.stepNote(), /^Step 5 of 5 \(done\)/)
  for (const want of [/^Step 4 of 5 \(VMA #\d of pid \d\)/, /^Step 3 of 5 \(VMA/, /^Step 2 of 5 \(anon_vma #1\)/, /^Step 1 of 5 \(struct page\)/]) {
    await page.getByTestId('step-back').click()
    t.match(await ui.stepNote(), want)
  }
  t.ok(await page.getByTestId('step-back').isDisabled(), 'no step before the first')
  t.equal(await page.getByTestId('struct-page').getAttribute('aria-current'), 'step', 'the current step is marked for assistive technology')
  t.equal(await page.getByTestId('walk-row').filter({ hasText: 'not yet' }).count(), 2, 'VMAs not yet visited say so')
  await page.getByTestId('step-next').click()
  t.match(await ui.stepNote(), /^Step 2 of 5 \(anon_vma #1\)/)
  // The keyboard does the same: focus the stepper, then the arrow keys.
  await page.getByRole('group', { name: /Step through the walk/ }).focus()
  await page.keyboard.press('ArrowRight')
  t.match(await ui.stepNote(), /^Step 3 of 5 \(VMA/)
  await page.keyboard.press('ArrowLeft')
  t.match(await ui.stepNote(), /^Step 2 of 5/)
  await page.keyboard.press('End')
  t.match(await ui.stepNote(), /^Step 5 of 5 \(done\)/)
  // A VMA of the walk, clicked, is where the walk stands.
  await page.getByTestId('walk-row').first().getByRole('button').click()
  t.match(await ui.stepNote(), /^Step 3 of 5 \(VMA/)
  await page.getByRole('group', { name: /Step through the walk/ }).focus()
  await page.keyboard.press('End')
  t.match(await ui.stepNote(), /^Step 5 of 5/)
})

await t.test('a COW write by another client arrives live and splits the frame', async (t) => {
  const reply = await other(sid, token, 'POST', '/processes/2/access', { addr: '0x10000000', op: 'write' })
  t.equal(reply.path, 'cow_copy')
  const copy = reply.pfn as number
  await page.getByTestId('last-change').getByText(/access by pid 2 \(cow_copy\)/).waitFor()
  t.match(await page.getByTestId('last-change').textContent(), new RegExp(`new frame ${copy}`))
  // The old frame's diagram updates by itself: one mapping left.
  await ui.expectMappings(1)
  t.equal(await page.getByTestId('walk-row').filter({ hasText: '✓ maps this page' }).count(), 1)
  await page.getByTestId(`frame-${copy}`).getByText('new').waitFor()
  await rig.shot(page, 'live-cow')
  await ui.selectFrame(copy)
  await ui.expectMappings(1)
  t.match(await page.getByTestId('walk-row').first().textContent(), /pid 2 · VMA #2/)
  await ui.tab('Events')
  await page.getByTestId('event').filter({ hasText: /pte\.changed pid 2 0x10000000 .*cow_copy/ }).first().waitFor()
  await rig.shot(page, 'events')
})

await t.test('step back in time and see the earlier state, then return to live', async (t) => {
  await page.getByTestId('timeline-position').getByText('5 / 5').waitFor()
  await page.getByRole('button', { name: 'One op back' }).click()
  await page.getByTestId('timeline-position').getByText('4 / 5').waitFor()
  await page.getByText(/Viewing the past: the state after op 4 of 5/).waitFor()
  await ui.selectFrame(4101)
  await ui.expectMappings(2)
  t.ok(await page.getByTestId('run-op').isDisabled(), 'the past is read-only')
  await rig.shot(page, 'time-travel')
  await page.getByRole('button', { name: 'Go to the start' }).click()
  await page.getByTestId('timeline-position').getByText('0 / 5').waitFor()
  await ui.tab('Processes')
  await page.getByText('No processes yet').waitFor()
  await page.getByRole('button', { name: 'One op forward' }).click()
  await page.getByTestId('process-1').waitFor()
  t.equal(await page.getByTestId('process-2').count(), 0, 'after op 1 only the parent exists')
  await page.getByRole('button', { name: 'Live »' }).click()
  await page.getByTestId('process-2').waitFor()
  t.notOk(await page.getByTestId('run-op').isDisabled(), 'live again: operations are on')
})

await t.test('a SIGSEGV is shown as the API gives it', async (t) => {
  expected.push(/status of 422/, /^response: 422 POST \/v1\/sessions\/[^/]+\/processes\/1\/access$/)
  const line = await ui.run('write', { pid: '1', addr: '0x70000000' })
  t.match(line, /SIGSEGV — 422 segfault: .*0x70000000/)
  t.equal(await page.getByTestId('log-error').count(), 1)
  await rig.shot(page, 'sigsegv')
})

await t.test('a shared link recreates the scenario in a new session', async (t) => {
  await page.getByRole('button', { name: 'Share as link' }).click()
  const link = await page.getByLabel('Link that recreates this session').inputValue()
  t.match(link, /#kernel=6\.18&ops=[A-Za-z0-9_-]+$/)
  t.notMatch(link, new RegExp(token), 'no token in the link')
  const second = await rig.browser.newPage({ viewport: { width: 1600, height: 1000 } })
  second.on('console', (m) => { if (m.type() === 'error') rig.problems.push(`console: ${m.text()}`) })
  await second.goto(link)
  const copy = new ExplorerPage(second)
  await second.getByTestId('timeline-position').getByText('5 / 5').waitFor()
  const newId = await second.getByTestId('session-id').textContent()
  t.not(newId, sid, 'a new session')
  await copy.selectFrame(4101)
  await copy.expectMappings(1)
  t.equal(second.url(), rig.base + '/', 'the fragment is consumed')
  await second.close()
})

t.test('no console errors', async (t) => {
  const unexpected = rig.problems.filter((p) => !expected.some((re) => re.test(p)))
  t.same(unexpected, [], 'only the failed fetch the test caused on purpose')
})
