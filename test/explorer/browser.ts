/**
 * A real server and a real browser for the explorer's tests: the explorer built from the current
 * sources into a folder of its own, the server listening on loopback and held to its OpenAPI document
 * (every request the browser makes is checked like the inject tests'), and Debian's Chromium driven by
 * playwright-core. Nothing here downloads a browser: a missing /usr/bin/chromium fails the test.
 */
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core'
import { buildExplorer } from '../../src/explorer/build.js'
import { buildTestApp, type TestContext } from '../helper.js'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
/** Screenshots of the main views land here (gitignored); look at them after a change. */
export const SHOTS = resolve('test-output', 'explorer')

/** The flags a root, offline, GPU-less machine needs (the environment notes). */
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']

export interface Rig {
  app: FastifyInstance
  base: string
  browser: Browser
  /** Console errors and page errors seen so far, in every page opened with openPage. */
  problems: string[]
  openPage: () => Promise<Page>
  shot: (page: Page, name: string) => Promise<void>
}

let built: Promise<string> | undefined
/** The explorer built once per test process from the current sources. */
export async function explorerDir (): Promise<string> {
  built ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rmap-sim-explorer-'))
    await buildExplorer(dir)
    return dir
  })()
  return await built
}

export async function startRig (t: TestContext, env: Record<string, string> = {}): Promise<Rig> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium package (apt-get install -y chromium), as .ci/run does`)
  const app = await buildTestApp(t, { EXPLORER_DIR: await explorerDir(), ...env })
  const address = await app.listen({ host: '127.0.0.1', port: 0 })
  // launch() starts Chromium on a fresh, empty profile folder of its own (Playwright refuses
  // --user-data-dir there), which is what the environment notes ask for.
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS })
  t.teardown(async () => { await browser.close() })
  mkdirSync(SHOTS, { recursive: true })
  const problems: string[] = []
  const rig: Rig = {
    app,
    base: address,
    browser,
    problems,
    openPage: async () => {
      const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } })
      page.on('console', (m: ConsoleMessage) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`) })
      page.on('pageerror', (e) => { problems.push(`page error: ${e.message}`) })
      page.on('response', (r) => { if (r.status() >= 400) problems.push(`response: ${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`) })
      await page.goto(address + '/')
      return page
    },
    shot: async (page, name) => { await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true }) }
  }
  return rig
}
