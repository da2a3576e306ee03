/**
 * `npm run lint:api`: the OpenAPI document the server serves at /docs/json, linted by Redocly CLI
 * with redocly.yaml. Builds the app as the server does (buildApp, loadConfig with the default
 * settings), writes app.swagger() to a temporary file, runs `redocly lint` on it, and fails on any
 * problem, error or warning: whatever the document may break has to be relaxed in redocly.yaml, with
 * the reason. Redocly needs no network here (telemetry is off in redocly.yaml and below).
 * Not a test file itself (.taprc runs only *.test.ts).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'

interface Problem { ruleId: string, severity: string, message: string, location?: Array<{ pointer?: string }> }
interface LintReport { totals: { errors: number, warnings: number, ignored: number }, version: string, problems: Problem[] }

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const cli = join(dirname(createRequire(import.meta.url).resolve('@redocly/cli/package.json')), 'bin', 'cli.js')

const app = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent' }), logger: false })
await app.ready()
const doc = app.swagger() as { paths?: Record<string, Record<string, unknown>> }
await app.close()
const operations = Object.values(doc.paths ?? {}).reduce((n, ops) => n + Object.keys(ops).length, 0)

const dir = mkdtempSync(join(tmpdir(), 'rmap-sim-openapi-'))
const file = join(dir, 'openapi.json')
writeFileSync(file, JSON.stringify(doc, null, 2) + '\n')
const run = spawnSync(process.execPath, [cli, 'lint', file, '--config', join(root, 'redocly.yaml'), '--format', 'json', '--max-problems', '1000'], {
  cwd: root,
  encoding: 'utf8',
  env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
  maxBuffer: 64 << 20
})

let report: LintReport | undefined
try { report = JSON.parse(run.stdout) as LintReport } catch { report = undefined }
if (report === undefined) {
  process.stderr.write(`redocly lint gave no report (exit ${String(run.status)}):\n${run.stderr}\n${run.stdout}\n`)
  process.stderr.write(`the document is kept at ${file}\n`)
  process.exit(1)
}
for (const p of report.problems) {
  process.stdout.write(`${p.severity.padEnd(7)} ${p.ruleId}  ${p.location?.[0]?.pointer ?? ''}\n        ${p.message}\n`)
}
const { errors, warnings, ignored } = report.totals
process.stdout.write(`redocly ${report.version} lint of /docs/json (${operations} operations, redocly.yaml): ${errors} errors, ${warnings} warnings${ignored > 0 ? `, ${ignored} ignored` : ''}\n`)
if (errors + warnings > 0 || run.status !== 0) {
  process.stdout.write(`the document is kept at ${file}\n`)
  process.exit(1)
}
rmSync(dir, { recursive: true, force: true })
