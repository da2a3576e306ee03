/**
 * The explorer at scale, in a real browser: a frame mapped by 1,000 processes renders (the walk's rows
 * are virtualised: the page holds a screenful, not 1,000), its walk can be stepped and scrolled end to
 * end, and while another client streams hundreds of COW writes the page keeps up with every event and
 * stays usable.
 */
import t from 'tap'
import WebSocket from 'ws'
import { startRig } from './browser.js'
import { ExplorerPage } from './explorer-page.js'

t.setTimeout(240_000)
const CHILDREN = 999
const rig = await startRig(t, { SESSION_MAX_PROCESSES: '1024', MAX_BATCH_OPS: '2000' })

async function api (method: string, path: string, token?: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(rig.base + path, {
    method,
    headers: { ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const json = await res.json() as Record<string, unknown>
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
  return json
}

// A parent and 999 children share one page (set up over HTTP, before the browser opens the session).
const created = await api('POST', '/v1/sessions', undefined, { kernel: '6.18', limits: { maxProcesses: 1000 } })
const id = created.id as string
const token = created.token as string
const ops = [
  { op: 'spawn', proc: 'P' },
  { op: 'mmap', proc: 'P', addr: '0x10000000', pages: 1, kind: 'anon' },
  { op: 'write', proc: 'P', addr: '0x10000000' },
  ...Array.from({ length: CHILDREN }, (_, i) => ({ op: 'fork', proc: 'P', child: `C${i + 1}` }))
]
const batch = await api('POST', `/v1/sessions/${id}/ops`, token, { ops })
if (batch.failed !== 0) throw new Error(`the setup failed: ${JSON.stringify(batch.firstFailure)}`)

const page = await rig.openPage()
const ui = new ExplorerPage(page)
await ui.openSession(id, token)

await t.test('a frame mapped by 1,000 processes renders, virtualised', async (t) => {
  await ui.selectFrame(4101)
  await ui.expectMappings(1000)
  const inPage = await page.getByTestId('walk-row').count()
  t.ok(inPage > 0 && inPage < 40, `only the rows in view are in the page (${inPage} of 1000)`)
  t.match(await ui.stepNote(), /^Step 1003 of 1003 \(done\): 1000 PTE\(s\) map PFN 4101/)
  await rig.shot(page, 'thousand-mappings')
})

await t.test('the walk is stepped and scrolled end to end', async (t) => {
  await page.getByRole('group', { name: /Step through the walk/ }).focus()
  await page.keyboard.press('Home')
  t.match(await ui.stepNote(), /^Step 1 of 1003 \(struct page\)/)
  await page.keyboard.press('ArrowRight')
  await page.keyboard.press('ArrowRight')
  t.match(await ui.stepNote(), /^Step 3 of 1003 \(VMA #\d+ of pid \d+\)/)
  t.equal(await page.locator('[data-testid="walk-row"][aria-current="step"]').count(), 1, 'the current VMA is marked')
  await page.keyboard.press('End')
  t.match(await ui.stepNote(), /^Step 1003 of 1003/)
  // The list's own keys: focus its first row, End scrolls to the thousandth.
  await page.getByTestId('walk-row').first().getByRole('button').focus()
  await page.keyboard.press('End')
  await page.locator('[data-testid="walk-row"][aria-posinset="1000"], [aria-posinset="1000"] [data-testid="walk-row"]').first().waitFor()
  await page.waitForFunction(() => document.activeElement?.closest('[data-index]')?.getAttribute('data-index') === '999')
  t.pass('focus moved to the last row')
})

await t.test('the page keeps up with a stream of COW writes from another client', async (t) => {
  const writes = 300
  const burst = Array.from({ length: writes }, (_, i) => ({ op: 'write', proc: `C${i + 1}`, addr: '0x10000000' }))
  const reply = await api('POST', `/v1/sessions/${id}/ops`, token, { ops: burst })
  t.equal(reply.failed, 0)
  // Usable meanwhile: switching views still works.
  await ui.tab('Events')
  await page.getByTestId('event').first().waitFor()
  await ui.tab('Frames')
  const summary = await api('GET', `/v1/sessions/${id}`, token)
  const seq = (summary.counts as { events: number }).events
  await page.getByTestId('link-state').getByText(`(event ${seq})`).waitFor()
  await ui.expectMappings(1000 - writes)
  // What another WebSocket client is told is the same sequence number.
  const hello = await new Promise<{ seq: number }>((resolve, reject) => {
    const ws = new WebSocket(`${rig.base.replace('http', 'ws')}/v1/sessions/${id}/events?token=${token}`)
    ws.once('message', (m) => { resolve(JSON.parse(String(m)) as { seq: number }); ws.close() })
    ws.once('error', reject)
  })
  t.equal(hello.seq, seq)
  await rig.shot(page, 'after-stream')
})

t.test('no console errors', async (t) => {
  t.same(rig.problems, [])
})
