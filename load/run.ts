/**
 * Load run: starts the compiled server on loopback, runs the HTTP, memory and WebSocket scenarios one
 * after another, stops it, then runs the engine benchmark and the kernel comparison, and writes
 * load/results/report.json and report.md.
 *
 *   npm run load            (tsx load/run.ts)
 *   LOAD_DURATION=3 npx tsx load/run.ts
 *
 * Environment: LOAD_DURATION (s per scenario, default 5), LOAD_CONNECTIONS (10), LOAD_WORKERS (50),
 * LOAD_IDLE_SESSIONS (1000), LOAD_WS_SUBSCRIBERS (100), LOAD_KERNEL_PAGES (100000), LOAD_KERNEL_REPS (9),
 * LOAD_ONLY (comma list of: memory,health,rmap8,rmap1000,access,fork,fork-atomic,ops200,grading,ws,ceiling,engine,kernel),
 * LOAD_CPU_PROF=1 (profile the server child with --cpu-prof, summary in the report),
 * LOAD_ENGINE_ARGS (e.g. "--quick"), LOAD_ENGINE_TIMEOUT (s, 900), LOAD_BUILD (auto|always|never),
 * LOAD_RESULTS_DIR (load/results; load/results/profile-<sections> with LOAD_CPU_PROF),
 * LOAD_SERVER_ENV ("NAME=value ..." added to the server's environment, for experiments).
 */
import { mkdirSync, rmSync } from 'node:fs'
import os from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Api } from './client.js'
import { loadConfig, type Section } from './config.js'
import { newestProfile, summarizeProfile } from './profile.js'
import { computeTargets, writeReport, type ReportDoc } from './report.js'
import type { Ctx } from './scenarios/context.js'
import { engine } from './scenarios/engine.js'
import { grading } from './scenarios/grading.js'
import { ceiling } from './scenarios/ceiling.js'
import { access, fork, health, rmap, scenario200 } from './scenarios/http.js'
import { kernelComparison } from './scenarios/kernel.js'
import { memory } from './scenarios/memory.js'
import { websocket } from './scenarios/websocket.js'
import { ensureBuilt, startFlags, startServer, type ServerHandle } from './server.js'
import type { HttpScenario } from './types.js'
import { fmtMs, fmtNum } from './stats.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const t0 = Date.now()
const log = (s: string): void => { process.stderr.write(`[load ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${s}\n`) }
const errMsg = (e: unknown): string => (e instanceof Error ? e.message : String(e))
const loadAvg = (): string => os.loadavg()[0].toFixed(2)

async function main (): Promise<void> {
  const cfg = loadConfig(root)
  mkdirSync(cfg.resultsDir, { recursive: true })
  const want = (s: Section): boolean => cfg.only.has(s)
  const command = [
    ...Object.entries(process.env).filter(([k]) => k.startsWith('LOAD_')).map(([k, v]) => `${k}=${String(v)}`),
    'npx tsx load/run.ts'
  ].join(' ')
  const loadBefore = loadAvg()
  log(`settings: ${cfg.duration} s per scenario, ${cfg.connections} connections, ${cfg.workers} grading workers; sections: ${[...cfg.only].join(',')}`)

  const doc: ReportDoc = {
    title: 'rmap-sim load report',
    date: new Date().toISOString(),
    command,
    machine: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '?', os: `${os.type()} ${os.release()}`, memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1), loadAverageBefore: loadBefore },
    settings: { duration: cfg.duration, connections: cfg.connections, workers: cfg.workers, idleSessions: cfg.idleSessions, wsSubscribers: cfg.wsSubscribers, kernelPages: cfg.kernelPages, kernelReps: cfg.kernelReps, sections: [...cfg.only], cpuProf: cfg.cpuProf },
    server: {},
    http: [],
    httpErrors: {},
    memory: undefined,
    websocket: undefined,
    engine: undefined,
    kernel: undefined,
    ceiling: undefined,
    targets: [],
    seconds: 0
  }

  const serverEnv: Record<string, string> = {
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MINUTE: '0',
    MAX_SESSIONS: String(Math.max(2000, cfg.idleSessions + cfg.workers + 100)),
    SESSION_MAX_FRAMES: String(1 << 24),
    SESSION_MAX_PROCESSES: '4096',
    SESSION_IDLE_SECONDS: '3600',
    WS_MAX_BUFFERED_BYTES: String(4 << 20),
    ...cfg.serverEnv
  }
  // Both the server under test and the ceiling section's calibration server run with it.
  if (serverEnv.HOST !== '127.0.0.1') throw new Error('the load server listens on 127.0.0.1 only')
  const serverSections: Section[] = ['memory', 'health', 'rmap8', 'rmap1000', 'access', 'fork', 'fork-atomic', 'ops200', 'grading', 'ws']
  if (serverSections.some(want)) {
    const build = ensureBuilt(root, cfg.build, log)
    const profDir = join(cfg.resultsDir, 'profiles')
    const nodeArgs: string[] = startFlags(root)
    if (cfg.cpuProf) {
      rmSync(profDir, { recursive: true, force: true })
      mkdirSync(profDir, { recursive: true })
      nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profDir}`)
    }
    log(`starting node ${nodeArgs.join(' ')} dist/src/server.js`)
    let server: ServerHandle | undefined
    const onSignal = (): void => { log('interrupted: stopping the server'); server?.stop(5000).then(() => process.exit(130)).catch(() => process.exit(130)) }
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    try {
      server = await startServer({ root, env: serverEnv, nodeArgs, log })
      log(`server pid ${server.pid} on ${server.url} (port from ${server.portSource})`)
      doc.server = {
        pid: server.pid,
        port: server.port,
        portSource: server.portSource,
        env: serverEnv,
        envLine: Object.entries(serverEnv).filter(([k]) => k !== 'HOST' && k !== 'PORT').map(([k, v]) => `${k}=${v}`).join(' '),
        build: build.built ? `Built first (${build.reason})` : `Build: ${build.reason}`,
        nodeArgs
      }
      const ctx: Ctx = { server, api: new Api(server.url), cfg, root, log, serverEnv }

      if (want('memory')) {
        log(`memory: idle RSS, then ${cfg.idleSessions} idle sessions`)
        try { doc.memory = await memory(ctx) } catch (e) { doc.memory = { error: errMsg(e) }; log(`  memory failed: ${errMsg(e)}`) }
      }
      const http = async (id: Section, fn: () => Promise<HttpScenario>): Promise<void> => {
        if (!want(id)) return
        log(`${id}: ${cfg.duration} s`)
        try {
          const r = await fn()
          doc.http.push(r)
          log(`  ${fmtNum(r.rps)} req/s, p50 ${fmtMs(r.latency.p50)}, p99 ${fmtMs(r.latency.p99)}, errors ${r.errors}${r.notes.length > 0 ? ` (${r.notes.join('; ').slice(0, 200)})` : ''}`)
        } catch (e) {
          doc.httpErrors[id] = errMsg(e)
          log(`  ${id} failed: ${errMsg(e)}`)
        }
        if (!server!.alive) throw new Error(`the server died during ${id} (exit ${String(server!.exitCode)}, signal ${String(server!.exitSignal)})`)
      }
      await http('health', async () => await health(ctx))
      const baselineRps = doc.http.find((h) => h.id === 'health')?.rps
      await http('rmap8', async () => await rmap(ctx, 8))
      await http('rmap1000', async () => await rmap(ctx, 1000))
      await http('access', async () => await access(ctx, baselineRps ?? 20000))
      await http('fork', async () => await fork(ctx, 4096, 'continue'))
      await http('fork-atomic', async () => await fork(ctx, 4096, 'atomic'))
      await http('ops200', async () => await scenario200(ctx))
      await http('grading', async () => await grading(ctx))
      if (want('health') && doc.http.length > 1) {
        // The baseline again, to show how much the machine drifted; ratios use the higher of the two.
        log(`health (again, for drift): ${cfg.duration} s`)
        try {
          const again = await health(ctx)
          doc.baselineEnd = again
          log(`  ${fmtNum(again.rps)} req/s, p50 ${fmtMs(again.latency.p50)}, p99 ${fmtMs(again.latency.p99)}, errors ${again.errors}`)
        } catch (e) { doc.httpErrors['health-end'] = errMsg(e) }
      }
      const ref = Math.max(baselineRps ?? 0, doc.baselineEnd?.rps ?? 0)
      if (ref > 0) {
        doc.baselineRps = ref
        for (const h of doc.http) h.ratioToBaseline = h.rps / ref
      }
      if (want('ws')) {
        log('ws: fan-out and stalled subscriber')
        try { doc.websocket = await websocket(ctx) } catch (e) { doc.websocket = { error: errMsg(e) }; log(`  ws failed: ${errMsg(e)}`) }
      }
    } finally {
      if (server !== undefined) {
        log('stopping the server (SIGTERM)')
        await server.stop()
        doc.server.exit = { code: server.exitCode, signal: server.exitSignal }
        doc.server.warnings = server.warnings
      }
      process.removeListener('SIGINT', onSignal)
      process.removeListener('SIGTERM', onSignal)
    }
    if (cfg.cpuProf) {
      const f = newestProfile(profDir)
      if (f === undefined) log('no .cpuprofile was written')
      else { doc.profile = summarizeProfile(f, root); log(`profile: ${doc.profile.file}`) }
    }
  }

  if (want('ceiling')) {
    log('ceiling: the rmap and access routes without the simulation (calibration server)')
    try {
      ensureBuilt(root, cfg.build, log)
      doc.ceiling = await ceiling({ cfg, root, log, serverEnv }, startFlags(root))
      log(`  rmap twin ${fmtNum(doc.ceiling.ratios.rmap8 * 100, 0)}% of its /health, access twin ${fmtNum(doc.ceiling.ratios.access * 100, 0)}%`)
    } catch (e) { doc.ceiling = { error: errMsg(e) }; log(`  ceiling failed: ${errMsg(e)}`) }
  }

  if (want('engine')) {
    log('engine benchmark (child process)')
    try {
      doc.engine = await engine(root, cfg, log)
      if ('skipped' in doc.engine) log(`  skipped: ${doc.engine.reason}`)
    } catch (e) { doc.engine = { error: errMsg(e) } }
  }
  if (want('kernel')) {
    log('kernel comparison')
    try {
      doc.kernel = kernelComparison(cfg.kernelPages, cfg.kernelReps, log)
      if ('skipped' in doc.kernel) log(`  ${doc.kernel.reason}`)
    } catch (e) { doc.kernel = { error: errMsg(e) }; log(`  kernel comparison failed: ${errMsg(e)}`) }
  }

  doc.machine.loadAverageAfter = loadAvg()
  doc.targets = computeTargets(doc)
  const missed = doc.targets.filter((t) => t.met === false && t.check !== true).sort((a, b) => (b.missFactor ?? 0) - (a.missFactor ?? 0))
  doc.mostMissed = missed[0]
  doc.seconds = (Date.now() - t0) / 1000
  const out = writeReport(cfg.resultsDir, doc)
  log(`wrote ${out.md} and ${out.json}`)
  for (const t of doc.targets) log(`  ${t.met === null ? 'n/a    ' : t.met ? 'met    ' : 'NOT MET'}  ${t.name}: ${t.actual}`)
}

main().catch((e: unknown) => {
  log(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
  process.exitCode = 1
})
