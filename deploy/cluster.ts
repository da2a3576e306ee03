/**
 * `npm run cluster`: Redis, HAProxy and N rmap-sim processes on this machine, from Debian's
 * redis-server and haproxy packages, for development and for the tests (which import startCluster).
 * Every child is started with `setpriv --pdeathsig KILL`, so none outlives this process even if it is
 * killed with SIGKILL. Ctrl-C stops them all (the rmap-sim processes gracefully: they hand their
 * sessions over).
 *
 *   npm run cluster -- --nodes 3 --port 8080
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { haproxyConfig } from './haproxy-config.js'

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..')
const SETPRIV = existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : undefined

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => { resolve(port) })
    })
  })
}

async function accepts (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const sock = new Socket()
    const end = (ok: boolean): void => { sock.destroy(); resolve(ok) }
    sock.setTimeout(300, () => { end(false) })
    sock.once('error', () => { end(false) })
    sock.connect(port, '127.0.0.1', () => { end(true) })
  })
}

async function until (what: string, ms: number, ok: () => Promise<boolean>, child?: ChildProcess): Promise<void> {
  const started = Date.now()
  while (!await ok()) {
    if (child !== undefined && child.exitCode !== null) throw new Error(`${what}: the process exited with ${String(child.exitCode)}`)
    if (Date.now() - started > ms) throw new Error(`${what}: not ready within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** A child that dies with this process (setpriv's parent-death signal), its output kept for errors. */
function owned (cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv, cwd?: string } = {}): ChildProcess {
  const child = SETPRIV === undefined
    ? spawn(cmd, args, { ...opts, stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', cmd, ...args], { ...opts, stdio: ['ignore', 'ignore', 'pipe'] })
  child.stderr?.resume()
  return child
}

export interface ClusterOptions {
  nodes: number
  /** HAProxy's port (0: a free one). */
  port?: number
  leaseMs?: number
  fsync?: 'always' | 'everysec'
  /** The server command (default: the compiled server, as npm start runs it). */
  server?: string[]
  env?: Record<string, string>
  dir?: string
}

export interface ClusterNode { id: string, port: number, proc: ChildProcess | undefined }

export class Cluster {
  readonly nodes: ClusterNode[] = []
  redisPort = 0
  haproxyPort = 0
  private redis: ChildProcess | undefined
  private haproxy: ChildProcess | undefined
  readonly dir: string

  constructor (readonly opts: ClusterOptions) {
    this.dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'rmap-sim-cluster-'))
  }

  get url (): string { return `http://127.0.0.1:${this.haproxyPort}` }
  get redisUrl (): string { return `redis://127.0.0.1:${this.redisPort}` }

  async start (): Promise<void> {
    this.redisPort = await freePort()
    await this.startRedis()
    for (let i = 0; i < this.opts.nodes; i++) this.nodes.push({ id: `node${i + 1}`, port: await freePort(), proc: undefined })
    // One after the other: N starts at once are a burst of CPU a small machine feels everywhere.
    for (let i = 0; i < this.nodes.length; i++) await this.startNode(i)
    this.haproxyPort = this.opts.port !== undefined && this.opts.port !== 0 ? this.opts.port : await freePort()
    const cfg = join(this.dir, 'haproxy.cfg')
    writeFileSync(cfg, haproxyConfig({ bind: `127.0.0.1:${this.haproxyPort}`, nodes: this.nodes.map((n) => ({ name: n.id, address: `127.0.0.1:${n.port}` })) }))
    const check = spawnSync('haproxy', ['-c', '-q', '-f', cfg], { encoding: 'utf8' })
    if (check.status !== 0) throw new Error(`haproxy refuses its configuration: ${check.stderr}`)
    this.haproxy = owned('haproxy', ['-db', '-f', cfg])
    await until('haproxy', 10000, async () => await accepts(this.haproxyPort), this.haproxy)
  }

  /** Starts (or restarts, from its append-only file) Redis. */
  async startRedis (): Promise<void> {
    const dir = join(this.dir, 'redis')
    mkdirSync(dir, { recursive: true })
    this.redis = owned('redis-server', ['--port', String(this.redisPort), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no',
      '--appendonly', 'yes', '--appendfsync', this.opts.fsync ?? 'always', '--save', '', '--logfile', ''])
    await until('redis-server', 10000, async () => await accepts(this.redisPort), this.redis)
  }

  async stopRedis (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> { await stop(this.redis, signal) }

  /** Starts (or restarts) node i and waits until it answers /health. */
  async startNode (i: number): Promise<void> {
    const n = this.nodes[i]
    const [cmd, ...args] = this.opts.server ?? [process.execPath, '--max-semi-space-size=4', 'dist/src/server.js']
    n.proc = owned(cmd, args, {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '', PORT: String(n.port), HOST: '127.0.0.1', REDIS_URL: this.redisUrl, NODE_ID: n.id, LEASE_MS: String(this.opts.leaseMs ?? 3000), LOG_LEVEL: 'warn', ...this.opts.env }
    })
    await until(n.id, 30000, async () => {
      try { return (await fetch(`http://127.0.0.1:${n.port}/health`)).ok } catch { return false }
    }, n.proc)
  }

  /** Sends a signal to node i (SIGKILL, SIGSTOP, SIGCONT, SIGTERM); waits for the exit of a kill. */
  async signalNode (i: number, signal: NodeJS.Signals): Promise<void> {
    const p = this.nodes[i].proc
    if (signal === 'SIGSTOP' || signal === 'SIGCONT') { p?.kill(signal); return }
    await stop(p, signal)
  }

  async stop (): Promise<void> {
    await Promise.all(this.nodes.map(async (n) => { await stop(n.proc, 'SIGTERM', 5000) }))
    await stop(this.haproxy, 'SIGTERM')
    await stop(this.redis, 'SIGTERM')
  }
}

/** Signals a child and waits for its exit (SIGKILL after `graceMs` if it is still there). */
async function stop (p: ChildProcess | undefined, signal: NodeJS.Signals, graceMs = 3000): Promise<void> {
  if (p === undefined || p.exitCode !== null || p.signalCode !== null) return
  await new Promise<void>((resolve) => {
    const hard = setTimeout(() => { p.kill('SIGKILL') }, graceMs)
    p.once('exit', () => { clearTimeout(hard); resolve() })
    p.kill(signal)
  })
}

export async function startCluster (opts: ClusterOptions): Promise<Cluster> {
  const c = new Cluster(opts)
  try { await c.start() } catch (err) { await c.stop(); throw err }
  return c
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { nodes: { type: 'string', default: '3' }, port: { type: 'string', default: '8080' } } })
  const c = await startCluster({ nodes: Number(values.nodes), port: Number(values.port) })
  console.log(`rmap-sim cluster: ${c.url} (HAProxy) → ${c.nodes.map((n) => `${n.id} :${n.port}`).join(', ')}; Redis ${c.redisUrl} (data in ${c.dir}). Ctrl-C stops it.`)
  const quit = (): void => { c.stop().then(() => process.exit(0), () => process.exit(1)) }
  process.once('SIGINT', quit)
  process.once('SIGTERM', quit)
}
