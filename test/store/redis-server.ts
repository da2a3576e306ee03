/**
 * A real redis-server (Debian's package) for the durability tests: on a free loopback port, with its
 * own folder, the shipped persistence settings (append-only file, fsync on every write), started and
 * killed like any child process. Nothing is mocked.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { cleanEnv, ROOT } from '../ops/support.js'
import { join } from 'node:path'
import { freePort } from '../../deploy/cluster.js'

export { freePort }

export const REDIS_SERVER = process.env.REDIS_SERVER_PATH ?? '/usr/bin/redis-server'

/** Answers once something accepts connections and says PONG on the port. */
async function pong (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const sock = new Socket()
    const done = (ok: boolean): void => { sock.destroy(); resolve(ok) }
    sock.setTimeout(500, () => { done(false) })
    sock.once('error', () => { done(false) })
    sock.connect(port, '127.0.0.1', () => { sock.write('PING\r\n') })
    sock.once('data', (d) => { done(d.toString().startsWith('+PONG')) })
  })
}

export class RedisServer {
  private child: ChildProcess | undefined
  readonly dir = mkdtempSync(join(tmpdir(), 'rmap-sim-redis-'))

  constructor (readonly port: number, readonly fsync: 'always' | 'everysec' = 'always') {}

  get url (): string { return `redis://127.0.0.1:${this.port}` }

  static async start (fsync: 'always' | 'everysec' = 'always'): Promise<RedisServer> {
    const r = new RedisServer(await freePort(), fsync)
    await r.start()
    return r
  }

  /** Starts (or restarts, from its append-only file) and waits until it answers. */
  async start (): Promise<void> {
    this.child = spawn(REDIS_SERVER, [
      '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--daemonize', 'no',
      '--appendonly', 'yes', '--appendfsync', this.fsync, '--save', '', '--protected-mode', 'yes'
    ], { stdio: 'ignore' })
    const started = Date.now()
    while (!await pong(this.port)) {
      if (this.child.exitCode !== null) throw new Error(`redis-server exited with ${String(this.child.exitCode)}`)
      if (Date.now() - started > 10000) throw new Error('redis-server did not answer within 10 s')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  /** Kills it (SIGKILL by default: no chance to flush anything more) and waits for the exit. */
  async kill (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.child
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
    await new Promise<void>((resolve) => { c.once('exit', () => { resolve() }); c.kill(signal) })
  }
}

/**
 * The server as a real child process (node running src/server.ts through tsx), on `port`, waited for
 * until /health answers.
 */
export async function startServerProcess (port: number, env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: cleanEnv({ PORT: String(port), LOG_LEVEL: 'error', RATE_LIMIT_PER_MINUTE: '0', ...env }),
    stdio: 'ignore'
  })
  for (const started = Date.now(); ;) {
    try { if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return child } catch { /* not yet */ }
    if (child.exitCode !== null) throw new Error(`the server exited with ${String(child.exitCode)}`)
    if (Date.now() - started > 20000) throw new Error('the server did not start')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
