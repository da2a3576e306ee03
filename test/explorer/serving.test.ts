/** How the server serves the explorer: its page and assets, their headers, and a server without a build. */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { EXPLORER_CSP } from '../../src/plugins/explorer.js'
import { buildTestApp } from '../helper.js'
import { explorerDir } from './browser.js'

t.test('the page and its assets, under the explorer CSP, not in the API', async (t) => {
  const app = await buildTestApp(t, { EXPLORER_DIR: await explorerDir() })
  const page = await app.inject({ method: 'GET', url: '/' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  t.equal(page.headers['content-security-policy'], EXPLORER_CSP)
  t.match(page.body, /<link rel="icon" href="\/explorer\/favicon.svg"/)
  for (const [file, type] of [['explorer.js', /javascript/], ['explorer-style.css', /text\/css/], ['favicon.svg', /image\/svg\+xml/]] as const) {
    const r = await app.inject({ method: 'GET', url: `/explorer/${file}` })
    t.equal(r.statusCode, 200, file)
    t.match(r.headers['content-type'], type, file)
    t.equal(r.headers['content-security-policy'], EXPLORER_CSP, `${file} has the CSP`)
  }
  const packed = await app.inject({ method: 'GET', url: '/explorer/explorer.js', headers: { 'accept-encoding': 'br, gzip' } })
  t.equal(packed.headers['content-encoding'], 'br', 'served brotli-compressed to a browser that takes it')
  t.ok(packed.rawPayload.length < 60_000, `compressed (${packed.rawPayload.length} bytes)`)
  t.equal(packed.headers['content-security-policy'], EXPLORER_CSP)
  const missing = await app.inject({ method: 'GET', url: '/explorer/nope.js' })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().error.code, 'not_found', 'a missing asset is the API\'s usual 404')
  const outside = await app.inject({ method: 'GET', url: '/explorer/..%2fpackage.json' })
  t.equal(outside.statusCode, 404, 'nothing outside the explorer folder')
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, unknown> }
  t.notOk('/' in doc.paths, 'the page is not an API operation')
})

t.test('a server without a built explorer says how to build it', async (t) => {
  const app = await buildTestApp(t, { EXPLORER_DIR: mkdtempSync(join(tmpdir(), 'rmap-sim-no-explorer-')) })
  const r = await app.inject({ method: 'GET', url: '/' })
  t.equal(r.statusCode, 503)
  t.match(r.json().error.message, /the explorer is not built .*npm run build/)
  t.equal((await app.inject({ method: 'GET', url: '/explorer/explorer.js' })).statusCode, 503, 'its assets too')
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'the API is unaffected')
})
