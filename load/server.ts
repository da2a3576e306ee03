import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * The server under test: the compiled server (dist/src/server.js) as a child process on 127.0.0.1 with
 * an ephemeral port, found from its "Server listening at" log line or, when the log level hides that
 * line (it is logged at info, and load runs use warn), from the child's listening socket in /proc.
 */

export interface BuildInfo { built: boolean, reason: string }

function newestTs (dir: string, skip: (p: string) => boolean): number {
  let newest = 0
  if (!existsSync(dir)) return 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (skip(p)) continue
    if (e.isDirectory()) newest = Math.max(newest, newestTs(p, skip))
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs)
  }
  return newest
}

/** Builds dist/ when it is missing (and, in auto mode, when a source is newer than it). */
export function ensureBuilt (root: string, mode: 'auto' | 'always' | 'never', log: (s: string) => void): BuildInfo {
  const entry = join(root, 'dist/src/server.js')
  let reason: string | undefined
  if (mode === 'always') reason = 'LOAD_BUILD=always'
  else if (!existsSync(entry)) reason = 'dist/src/server.js is missing'
  else if (mode === 'auto') {
    const built = statSync(entry).mtimeMs
    const skip = (p: string): boolean => p.includes('/bench') || p.includes('node_modules')
    const src = Math.max(newestTs(join(root, 'src'), skip), newestTs(join(root, 'routes'), skip), newestTs(join(root, 'schemas'), skip))
    if (src > built) reason = 'sources are newer than dist/ (set LOAD_BUILD=never to run the old build)'
  }
  if (reason === undefined) return { built: false, reason: mode === 'never' && !existsSync(entry) ? 'missing' : 'dist/ is up to date' }
  if (mode === 'never') throw new Error(`${reason}, and LOAD_BUILD=never`)
  log(`building: ${reason}: npx tsc -p tsconfig.build.json`)
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' })
  if (r.status !== 0) throw new Error(`the build failed (exit ${String(r.status)})`)
  return { built: true, reason }
}

/**
 * The node flags `npm start` runs the server with (package.json "start": "node <flags> dist/src/server.js"),
 * so the load run measures the server exactly as it is deployed.
 */
export function startFlags (root: string): string[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }
  const words = (pkg.scripts?.start ?? '').trim().split(/\s+/)
  if (words[0] !== 'node' || words[words.length - 1] !== 'dist/src/server.js') {
    throw new Error(`package.json "start" is "${pkg.scripts?.start ?? ''}": expected node [flags] dist/src/server.js`)
  }
  return words.slice(1, -1)
}

/** Resident set size of a process, from /proc/PID/status (bytes); undefined off Linux. */
export function readRss (pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? undefined : Number(m[1]) * 1024
  } catch { return undefined }
}

/** VmRSS split into anonymous memory and file-backed pages (the node binary, shared libraries). */
export function readRssParts (pid: number): { rss: number, anon: number, file: number, shmem: number } | undefined {
  try {
    const t = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (name: string): number => Number(new RegExp(`${name}:\\s+(\\d+)\\s+kB`).exec(t)?.[1] ?? Number.NaN) * 1024
    return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem') }
  } catch { return undefined }
}

/** The TCP port a process listens on, from /proc/PID/fd and /proc/net/tcp{,6}. */
function listeningPortFromProc (pid: number): number | undefined {
  const inodes = new Set<string>()
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
        if (m !== null) inodes.add(m[1])
      } catch { /* closed meanwhile */ }
    }
  } catch { return undefined }
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try { text = readFileSync(table, 'utf8') } catch { continue }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f.length < 10 || f[3] !== '0A') continue // 0A: LISTEN
      if (inodes.has(f[9])) return Number.parseInt(f[1].split(':')[1], 16)
    }
  }
  return undefined
}

export interface ServerOptions {
  root: string
  env: Record<string, string>
  /** node flags before the script (e.g. --cpu-prof). */
  nodeArgs?: string[]
  /** The script and its arguments; default the compiled server, dist/src/server.js. */
  script?: string[]
  log: (s: string) => void
}

export class ServerHandle {
  readonly logLines: string[] = []
  readonly warnings: string[] = []
  port = 0
  portSource = ''
  exitCode: number | null = null
  exitSignal: NodeJS.Signals | null = null
  private readonly exited: Promise<void>

  constructor (readonly child: ChildProcess, private readonly log: (s: string) => void) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => { this.exitCode = code; this.exitSignal = signal; resolve() })
    })
    let buf = ''
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString('utf8')
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        this.onLine(line)
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', (c: Buffer) => { for (const l of c.toString('utf8').split('\n')) if (l.trim() !== '') this.onLine(l) })
  }

  private onLine (line: string): void {
    if (this.logLines.length < 2000) this.logLines.push(line)
    let msg = line
    let level = 0
    try {
      const j = JSON.parse(line) as { msg?: string, level?: number }
      msg = j.msg ?? line
      level = j.level ?? 0
    } catch { level = 50 /* not JSON: stderr text */ }
    const m = /Server listening at https?:\/\/[^:]+:(\d+)/.exec(msg)
    if (m !== null && this.port === 0) { this.port = Number(m[1]); this.portSource = 'log line "Server listening at"' }
    if (level >= 40 && this.warnings.length < 200) {
      this.warnings.push(line.length > 600 ? line.slice(0, 600) + '…' : line)
      if (this.warnings.length <= 5) this.log(`  server: ${line.slice(0, 300)}`)
    }
  }

  get pid (): number { return this.child.pid as number }
  get url (): string { return `http://127.0.0.1:${this.port}` }
  get alive (): boolean { return this.exitCode === null && this.exitSignal === null }

  rss (): number | undefined { return readRss(this.pid) }

  /** RSS from /proc, or the rmap_process_resident_memory_bytes metric when /proc is not there. */
  async rssAny (): Promise<{ bytes: number, source: string }> {
    const r = this.rss()
    if (r !== undefined) return { bytes: r, source: '/proc/PID/status VmRSS' }
    const m = await this.metric('rmap_process_resident_memory_bytes')
    return { bytes: m ?? Number.NaN, source: 'metric rmap_process_resident_memory_bytes' }
  }

  /** One unlabelled value from /metrics. */
  async metric (name: string): Promise<number | undefined> {
    const text = await (await fetch(`${this.url}/metrics`)).text()
    const re = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+([0-9.eE+-]+)`, 'm')
    const m = re.exec(text)
    return m === null ? undefined : Number(m[1])
  }

  async metricsText (): Promise<string> { return await (await fetch(`${this.url}/metrics`)).text() }

  /** SIGTERM (graceful: the CPU profile, if any, is written), SIGKILL after the grace. */
  async stop (graceMs = 20000): Promise<void> {
    if (!this.alive) return
    this.child.kill('SIGTERM')
    const timedOut = await Promise.race([this.exited.then(() => false), sleep(graceMs).then(() => true)])
    if (timedOut && this.alive) {
      this.log(`  server ${this.pid} did not stop within ${graceMs} ms: SIGKILL`)
      this.child.kill('SIGKILL')
      await this.exited
    }
  }
}

/** Starts the server and waits until /health answers. */
export async function startServer (opts: ServerOptions): Promise<ServerHandle> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'NODE_OPTIONS') env[k] = v
  Object.assign(env, opts.env)
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...(opts.script ?? ['dist/src/server.js'])], { cwd: opts.root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const h = new ServerHandle(child, opts.log)
  const deadline = Date.now() + 30000
  while (Date.now() < deadline) {
    if (!h.alive) throw new Error(`the server exited during start-up (code ${String(h.exitCode)}, signal ${String(h.exitSignal)}):\n${h.logLines.slice(-20).join('\n')}`)
    if (h.port === 0) {
      const p = listeningPortFromProc(h.pid)
      if (p !== undefined) { h.port = p; h.portSource = '/proc/net/tcp (LOG_LEVEL hides the info-level "Server listening at" line)' }
    }
    if (h.port !== 0) {
      try {
        const r = await fetch(`${h.url}/health`)
        if (r.ok) { await r.arrayBuffer(); return h }
      } catch { /* not yet */ }
    }
    await sleep(50)
  }
  await h.stop(2000)
  throw new Error(`the server did not answer /health within 30 s:\n${h.logLines.slice(-20).join('\n')}`)
}
