/**
 * The explorer on the 2.6.11 model, by keyboard, and checked with axe-core (WCAG 2.1 A and AA rules)
 * in a real browser: the file page's diagram (address_space, i_mmap, the priority-tree nodes the walk
 * stepped onto), the anon page's anon_vma list, tabs and lists driven by the keyboard.
 */
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import t from 'tap'
import type { Page } from 'playwright-core'
import { startRig } from './browser.js'
import { ExplorerPage } from './explorer-page.js'

t.setTimeout(240_000)
const rig = await startRig(t)
// axe-core is injected as a script; the explorer's CSP (script-src 'self') would refuse it, so this
// page bypasses CSP. The CSP itself is held by the other tests (a violation is a console error).
const context = await rig.browser.newContext({ bypassCSP: true, viewport: { width: 1600, height: 1000 } })
t.teardown(async () => { await context.close() })
const page = await context.newPage()
page.on('console', (m) => { if (m.type() === 'error') rig.problems.push(`console: ${m.text()}`) })
page.on('pageerror', (e) => { rig.problems.push(`page error: ${e.message}`) })
await page.goto(rig.base + '/')
const ui = new ExplorerPage(page)
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

interface AxeResult { violations: Array<{ id: string, impact: string | null, help: string, nodes: Array<{ target: string[] }> }> }
/** The WCAG 2.1 A/AA violations axe finds in the page as it is now. */
async function axe (p: Page): Promise<string[]> {
  await p.evaluate(axeSource)
  const r = await p.evaluate(async () => await (window as unknown as { axe: { run: (ctx: Document, o: unknown) => Promise<AxeResult> } }).axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }))
  return r.violations.map((v) => `${v.id} (${v.impact ?? ''}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`)
}

await t.test('the welcome page passes axe (and axe does catch a planted fault)', async (t) => {
  await page.evaluate(() => { const i = document.createElement('input'); i.id = 'planted'; document.body.append(i) })
  t.match(await axe(page), [/^label /], 'an input without a label is reported')
  await page.evaluate(() => { document.getElementById('planted')?.remove() })
  t.same(await axe(page), [])
})

await t.test('2.6.11: a shared file page shows its address_space, i_mmap and prio-tree nodes', async (t) => {
  await ui.newSession('2.6.11')
  await ui.run('create-file', { name: 'data', pages: '8' })
  await ui.run('spawn', { name: 'a' })
  await ui.run('mmap', { pid: '1', addr: '0x20000000', pages: '8', file: 'data' })
  await ui.run('read', { pid: '1', addr: '0x20002000' })
  await ui.run('fork', { pid: '1' })
  await ui.tab('Frames')
  await page.getByLabel('Kind').selectOption('file')
  const row = page.locator('[data-testid^="frame-"]').first()
  await row.waitFor()
  const pfn = Number((await row.getAttribute('data-testid'))?.slice('frame-'.length))
  await ui.selectFrame(pfn)
  await ui.expectMappings(2)
  const object = page.getByTestId('object-box')
  await object.getByRole('heading', { name: 'address_space: data' }).waitFor()
  t.match(await object.textContent(), /i_mmap radix priority search tree|prio/i)
  t.match(await object.textContent(), /Priority-tree nodes stepped onto/)
  t.match(await object.textContent(), /i_mmap: 2 VMA\(s\)/)
  t.match(await page.getByTestId('struct-page').textContent(), /index\s*2/)
  await rig.shot(page, 'file-diagram-2.6.11')
  t.same(await axe(page), [], 'the diagram passes axe')
})

await t.test('2.6.11: an anonymous page shows the anon_vma list', async (t) => {
  await ui.run('mmap', { pid: '1', addr: '0x10000000', pages: '2' })
  await ui.run('write', { pid: '1', addr: '0x10000000' })
  await ui.tab('Frames')
  await page.getByLabel('Kind').selectOption('anon')
  const row = page.locator('[data-testid^="frame-"]').first()
  await row.waitFor()
  const pfn = Number((await row.getAttribute('data-testid'))?.slice('frame-'.length))
  await ui.selectFrame(pfn)
  await page.getByTestId('object-box').getByText('anon_vma->head (list order)').waitFor()
  t.match(await page.getByTestId('object-box').textContent(), /anon_vma list/)
})

await t.test('tabs, lists and the walk work from the keyboard', async (t) => {
  await page.getByRole('tab', { name: 'Frames' }).focus()
  await page.keyboard.press('ArrowLeft')
  t.equal(await page.getByRole('tab', { name: 'Processes' }).getAttribute('aria-selected'), 'true', 'arrow keys move between tabs')
  await page.waitForFunction(() => document.activeElement?.id === 'tab-processes')
  t.pass('focus follows the selected tab')
  await page.keyboard.press('ArrowRight')
  await page.getByLabel('Kind').selectOption('')
  const first = page.locator('.frames-list [data-index="0"] [data-primary]')
  await first.focus()
  await page.keyboard.press('ArrowDown')
  await page.waitForFunction(() => document.activeElement?.closest('[data-index]')?.getAttribute('data-index') === '1')
  const label = await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))
  t.match(label, /^Frame \d+, /)
  await page.keyboard.press('Enter')
  const pfn = Number(/^Frame (\d+)/.exec(label ?? '')?.[1])
  await page.getByTestId('diagram').getByRole('heading', { name: new RegExp(`^Frame ${pfn}:`) }).waitFor()
  t.pass('Enter opens the diagram of the focused frame')
  for (const view of ['Processes', 'Events', 'Files'] as const) {
    await ui.tab(view)
    t.same(await axe(page), [], `${view} passes axe`)
  }
})

t.test('no console errors', async (t) => {
  t.same(rig.problems, [])
})
