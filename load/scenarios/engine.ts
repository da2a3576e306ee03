import { spawn } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { skipped, type Skipped } from '../types.js'
import type { LoadConfig } from '../config.js'

/** The engine benchmark (src/sim/bench/engine-bench.ts, another helper's), run as a child process. */

export interface EngineResult {
  command: string
  exitCode: number | null
  seconds: number
  /** Its printed table (stdout), for the report. */
  table: string
  /** What it wrote to $BENCH_JSON. */
  json: any
}

export async function engine (root: string, cfg: LoadConfig, log: (s: string) => void): Promise<EngineResult | Skipped> {
  const script = join(root, 'src/sim/bench/engine-bench.ts')
  if (!existsSync(script)) return skipped('src/sim/bench/engine-bench.ts does not exist (yet): engine benchmark skipped')
  const jsonPath = join(cfg.resultsDir, 'engine-bench.json')
  rmSync(jsonPath, { force: true })
  const args = ['tsx', 'src/sim/bench/engine-bench.ts', ...cfg.engineArgs]
  const command = `BENCH_JSON=${jsonPath} npx ${args.join(' ')}`
  log(`  ${command} (timeout ${cfg.engineTimeout} s)`)
  const t0 = Date.now()
  const child = spawn('npx', args, { cwd: root, env: { ...process.env, BENCH_JSON: jsonPath }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let out = ''
  let err = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr.on('data', (c: Buffer) => { err += c.toString() })
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    // npx -> tsx -> node: end the whole group this run started.
    try { process.kill(-(child.pid as number), 'SIGKILL') } catch { /* gone */ }
  }, cfg.engineTimeout * 1000)
  const exitCode = await new Promise<number | null>((resolve) => { child.on('exit', (code) => { resolve(code) }) })
  clearTimeout(timer)
  const seconds = (Date.now() - t0) / 1000
  if (timedOut) return skipped(`the engine benchmark did not finish within ${cfg.engineTimeout} s (LOAD_ENGINE_TIMEOUT); killed`)
  if (!existsSync(jsonPath)) return skipped(`the engine benchmark exited ${String(exitCode)} without writing JSON: ${(err || out).slice(-800)}`)
  let json: unknown
  try { json = JSON.parse(readFileSync(jsonPath, 'utf8')) } catch (e) { return skipped(`the engine benchmark's JSON is not readable: ${String(e)}`) }
  return { command, exitCode, seconds, table: out.trim(), json }
}
