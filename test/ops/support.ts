/**
 * Support for the operations tests that run the compiled server as the container does: a copy of the
 * Docker build context (only what the Dockerfile copies, plus node_modules standing in for `npm ci`),
 * compiled with `npx tsc -p tsconfig.build.json`, and `node dist/src/server.js` started from it.
 *
 * Each test file builds in its own temporary directory, so test files running in parallel never
 * write the same dist/ (nor the project's own dist/) while another one runs the server from it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** What the Dockerfile's build stage copies (the Dockerfile test checks that the two agree). */
export const BUILD_INPUTS = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'routes', 'schemas']

export interface Teardown { teardown: (fn: () => unknown) => void }

/**
 * An environment for child processes without what the test runner adds (its loader and coverage
 * options), so the server runs the way `CMD ["node", "dist/src/server.js"]` runs it.
 */
export function cleanEnv (extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k === 'NODE_OPTIONS' || k.startsWith('NODE_V8_') || k.startsWith('TAP') || k.startsWith('_TAPJS')) continue
    env[k] = v
  }
  return { ...env, ...extra }
}

/** A minimal environment, like a container's: PATH and the given variables only. */
export function containerEnv (extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', ...extra }
}

/**
 * Copies `copies` (pairs of project path and path in the context) into a fresh directory and links
 * the project's node_modules there. Removed when the test ends.
 */
export async function stageContext (t: Teardown, copies: Array<{ from: string, to: string }>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rmap-sim-ctx-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  for (const c of copies) await cp(join(ROOT, c.from), join(dir, c.to), { recursive: true })
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir')
  return dir
}

/** The copies of BUILD_INPUTS into the context root. */
export const buildInputCopies = (): Array<{ from: string, to: string }> => BUILD_INPUTS.map((p) => ({ from: p, to: basename(p) }))

export interface RunResult { code: number | null, stdout: string, stderr: string }

/** Runs a command to completion (never throws for a non-zero exit). */
export async function run (cmd: string, args: string[], opts: { cwd: string, env: Record<string, string>, timeoutMs: number }): Promise<RunResult> {
  return await new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null
      resolve({ code, stdout: String(stdout), stderr: String(stderr) })
    })
  })
}

/** `npx tsc -p tsconfig.build.json` in `dir`. */
export async function buildIn (dir: string): Promise<RunResult> {
  return await run('npx', ['--no-install', 'tsc', '-p', 'tsconfig.build.json'], { cwd: dir, env: cleanEnv(), timeoutMs: 180_000 })
}

export type LogLine = Record<string, unknown> & { msg?: string, level?: number }

export async function withTimeout<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`timed out after ${ms} ms waiting for ${what}`)) }, ms) })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** A server process and what it printed: pino JSON lines on stdout, anything on stderr. */
export class ServerProcess {
  readonly logs: LogLine[] = []
  /** stdout lines that are not JSON. */
  readonly rawLines: string[] = []
  stderr = ''
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  private partial = ''
  private readonly waiters: Array<{ match: (l: LogLine) => boolean, resolve: (l: LogLine) => void }> = []

  constructor (readonly proc: ChildProcess) {
    proc.stdout?.setEncoding('utf8')
    proc.stdout?.on('data', (chunk: string) => { this.onStdout(chunk) })
    proc.stderr?.setEncoding('utf8')
    proc.stderr?.on('data', (chunk: string) => { this.stderr += chunk })
    this.exited = new Promise((resolve) => { proc.on('exit', (code, signal) => { resolve({ code, signal }) }) })
  }

  get running (): boolean { return this.proc.exitCode === null && this.proc.signalCode === null }

  private onStdout (chunk: string): void {
    const lines = (this.partial + chunk).split('\n')
    this.partial = lines.pop() ?? ''
    for (const line of lines) {
      if (line.trim() === '') continue
      let parsed: unknown
      try { parsed = JSON.parse(line) } catch { this.rawLines.push(line); continue }
      if (typeof parsed !== 'object' || parsed === null) { this.rawLines.push(line); continue }
      const entry = parsed as LogLine
      this.logs.push(entry)
      for (const w of [...this.waiters]) {
        if (w.match(entry)) { this.waiters.splice(this.waiters.indexOf(w), 1); w.resolve(entry) }
      }
    }
  }

  /** The first log line (already printed or still to come) that `match` accepts. */
  async waitForLog (match: (l: LogLine) => boolean, ms: number, what: string): Promise<LogLine> {
    const seen = this.logs.find(match)
    if (seen !== undefined) return seen
    const found = new Promise<LogLine>((resolve) => { this.waiters.push({ match, resolve }) })
    const died = this.exited.then(({ code, signal }) => { throw new Error(`the server exited (code ${code}, signal ${signal}) before ${what}; stderr: ${this.stderr}`) })
    return await withTimeout(Promise.race([found, died]), ms, what)
  }

  /** Kills the process if it still runs (end of test). */
  kill (): void { if (this.running) this.proc.kill('SIGKILL') }
}

/** Starts `command` (the image's CMD) in `cwd` and waits for pino's "Server listening at <url>" line. */
export async function startServer (t: Teardown, cwd: string, command: string[], env: Record<string, string>): Promise<{ server: ServerProcess, url: string }> {
  const [program, ...args] = command
  const proc = spawn(program === 'node' ? process.execPath : program, args, { cwd, env: containerEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  const server = new ServerProcess(proc)
  t.teardown(() => { server.kill() })
  const line = await server.waitForLog((l) => typeof l.msg === 'string' && /^Server listening at http:\/\//.test(l.msg), 20_000, 'the "Server listening" log line')
  const url = /^Server listening at (http:\/\/\S+)$/.exec(line.msg as string)?.[1]
  if (url === undefined) throw new Error(`no address in ${JSON.stringify(line)}`)
  return { server, url }
}
