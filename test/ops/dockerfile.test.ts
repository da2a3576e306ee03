import { randomBytes } from 'node:crypto'
import { readFile, readdir, stat } from 'node:fs/promises'
import http from 'node:http'
import net from 'node:net'
import { builtinModules, createRequire } from 'node:module'
import { join, relative } from 'node:path'
import t from 'tap'
import type { Copy, Dockerfile, Env, From, Healthcheck, Instruction, JSONInstruction } from 'dockerfile-ast'
import { validate } from 'dockerfile-utils'
import WebSocket from 'ws'
import {
  BUILD_INPUTS, buildIn, containerEnv, ROOT, run, stageContext, startServer, withTimeout
} from './support.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

// Compiles the server (tsc) and runs it: more than the default per-file timeout on a busy machine.
t.setTimeout(300_000)

// dockerfile-utils parses with dockerfile-ast (its own dependency): load that copy of it.
const { DockerfileParser } = createRequire(createRequire(import.meta.url).resolve('dockerfile-utils'))('dockerfile-ast') as typeof import('dockerfile-ast')

const text = await readFile(join(ROOT, 'Dockerfile'), 'utf8')
const dockerfile: Dockerfile = DockerfileParser.parse(text)
const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>, devDependencies: Record<string, string>, engines?: { node?: string }, scripts: Record<string, string> }
/** `npm start` without npm: node, its flags, the compiled server. */
const startCommand = pkg.scripts.start.trim().split(/\s+/)

interface Stage { from: From, name: string | null, instructions: Instruction[] }

/** The build stages, each with its own instructions (FROM first); ARGs before the first FROM are global. */
function stagesOf (d: Dockerfile): Stage[] {
  const stages: Stage[] = []
  for (const i of d.getInstructions()) {
    if (i.getKeyword() === 'FROM') {
      const from = i as From
      stages.push({ from, name: from.getBuildStage(), instructions: [i] })
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push(i)
    }
  }
  return stages
}
const stages = stagesOf(dockerfile)
const runtime = stages[stages.length - 1]
const build = stages[0]
const of = (s: Stage, keyword: string): Instruction[] => s.instructions.filter((i) => i.getKeyword() === keyword)
const runs = (s: Stage): string[] => of(s, 'RUN').map((i) => i.getArgumentsContent() ?? '')
const jsonArgs = (i: Instruction): string[] => (i as JSONInstruction).getJSONStrings().map((a) => a.getJSONValue())
const copyFrom = (c: Instruction): string | null => (c as Copy).getFromFlag()?.getValue() ?? null
/** Sources of a COPY (every argument but the last), flags excluded. */
const copySources = (c: Instruction): string[] => c.getArguments().map((a) => a.getValue()).filter((v) => !v.startsWith('--')).slice(0, -1)
const copyDest = (c: Instruction): string => c.getArguments().map((a) => a.getValue()).at(-1) ?? ''
const envOf = (s: Stage): Map<string, string> => {
  const m = new Map<string, string>()
  for (const e of of(s, 'ENV') as Env[]) for (const p of e.getProperties()) m.set(p.getName(), p.getValue() ?? '')
  return m
}

/** The HEALTHCHECK command in exec form: the JSON array after CMD. */
function healthcheckCommand (h: Healthcheck): string[] {
  const sub = h.getSubcommand()?.getValue()
  if (sub?.toUpperCase() !== 'CMD') throw new Error(`HEALTHCHECK ${sub ?? ''}: expected CMD`)
  const content = h.getArgumentsContent() ?? ''
  const json = content.slice(content.toUpperCase().indexOf('CMD') + 3).trim()
  const parsed: unknown = JSON.parse(json)
  if (!Array.isArray(parsed) || !parsed.every((s) => typeof s === 'string')) throw new Error(`HEALTHCHECK CMD is not in exec form: ${json}`)
  return parsed as string[]
}

/** .dockerignore rules (Go filepath.Match with **, later rules win, ! re-includes), as Docker applies them. */
function dockerignoreMatcher (content: string): (path: string) => boolean {
  const rules = content.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((l) => {
    const negate = l.startsWith('!')
    const pattern = (negate ? l.slice(1) : l).trim().replace(/^\/+/, '').replace(/\/+$/, '')
    const re = new RegExp('^' + pattern.split('/').map((seg) => seg === '**'
      ? '.*'
      : seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('/').replace(/\.\*\//g, '(?:.*/)?') + '$')
    return { negate, re }
  })
  return (path: string) => {
    // A path is excluded when it or one of its parent directories is.
    const parts = path.split('/')
    let excluded = false
    for (let n = 1; n <= parts.length; n++) {
      const prefix = parts.slice(0, n).join('/')
      for (const r of rules) if (r.re.test(prefix)) excluded = !r.negate
    }
    return excluded
  }
}

t.test('dockerfile-utils validates the Dockerfile without errors or warnings', async (t) => {
  const diagnostics = validate(text)
  t.same(diagnostics.filter((d) => d.severity === 1).map((d) => `line ${d.range.start.line + 1}: ${d.message}`), [], 'no errors')
  t.same(diagnostics.filter((d) => d.severity !== 1).map((d) => `line ${d.range.start.line + 1}: ${d.message}`), [], 'no warnings')
})

t.test('base image: a maintained Node LTS, bookworm-slim, named by the NODE_VERSION build argument', async (t) => {
  const arg = dockerfile.getInitialARGs().map((a) => a.getProperty()).find((p) => p?.getName() === 'NODE_VERSION')
  t.ok(arg, 'ARG NODE_VERSION before the first FROM')
  const version = Number(arg?.getValue())
  t.ok(Number.isInteger(version) && version % 2 === 0, `NODE_VERSION=${arg?.getValue() ?? ''} is an LTS (even) major`)
  t.ok(version >= 22, 'NODE_VERSION names a maintained LTS line (Node 20 reached its end of life in April 2026)')
  const engines = /^>=\s*(\d+)/.exec(pkg.engines?.node ?? '')
  if (engines !== null) t.ok(version >= Number(engines[1]), `NODE_VERSION satisfies engines.node ${pkg.engines?.node ?? ''}`)
  t.ok(stages.length >= 2, `multi-stage (${stages.length} FROM)`)
  for (const s of stages) {
    t.equal(s.from.getImageName(), 'node', `stage ${s.name ?? '?'}: the official node image`)
    // The Dockerfile's own ${...} syntax, not a template literal.
    // eslint-disable-next-line no-template-curly-in-string
    t.equal(s.from.getImageTag(), '${NODE_VERSION}-bookworm-slim', `stage ${s.name ?? '?'}: FROM node:\${NODE_VERSION}-bookworm-slim`)
  }
  t.equal(new Set(stages.map((s) => s.name)).size, stages.length, 'stages have distinct names')
})

t.test('build stage: all dependencies, only the build inputs copied, then npm run build', async (t) => {
  t.ok(runs(build).some((r) => /\bnpm ci\b/.test(r) && !/--omit[= ]dev|--production/.test(r)), 'npm ci with dev dependencies (TypeScript)')
  t.ok(runs(build).some((r) => /\bnpm run build\b/.test(r)), 'npm run build')
  const sources = of(build, 'COPY').filter((c) => copyFrom(c) === null).flatMap(copySources)
  t.same([...sources].sort(), [...BUILD_INPUTS].sort(), 'copies package*.json, tsconfig*.json, src, routes, schemas and nothing else')
  t.equal(of(build, 'ADD').length, 0, 'no ADD')
  // The manifest is copied (and installed) before the sources, so a source change keeps the npm ci layer.
  const firstRun = build.instructions.findIndex((i) => i.getKeyword() === 'RUN')
  const sourceCopy = build.instructions.findIndex((i) => i.getKeyword() === 'COPY' && copySources(i).includes('src'))
  t.ok(firstRun > 0 && firstRun < sourceCopy, 'npm ci runs before the sources are copied (layer caching)')
})

t.test('runtime stage: production dependencies, non-root, HOST=0.0.0.0, health check, node as the command', async (t) => {
  t.not(runtime.name, build.name, 'the runtime is its own stage')
  const env = envOf(runtime)
  t.equal(env.get('NODE_ENV'), 'production', 'ENV NODE_ENV=production')
  t.equal(env.get('HOST'), '0.0.0.0', 'ENV HOST=0.0.0.0 (the server defaults to 127.0.0.1, unreachable from outside a container)')
  t.equal(env.get('PORT'), '3000', 'ENV PORT=3000')
  t.same(of(runtime, 'EXPOSE').map((i) => i.getArgumentsContent()), ['3000'], 'EXPOSE 3000')

  const users = of(runtime, 'USER').map((i) => i.getArgumentsContent() ?? '')
  t.ok(users.length > 0, 'USER is set')
  const user = users.at(-1) ?? ''
  t.notOk(/^(root|0)(:|$)/.test(user), `runs as a non-root user (${user})`)
  t.equal(user, 'node', "the image's node user")
  const lastUser = runtime.instructions.lastIndexOf(of(runtime, 'USER').at(-1) as Instruction)
  t.ok(runtime.instructions.slice(lastUser).every((i) => i.getKeyword() !== 'RUN'), 'nothing runs as root after USER')

  const rr = runs(runtime)
  t.ok(rr.some((r) => /\bnpm ci\b.*--omit[= ]dev/.test(r)), 'npm ci --omit=dev')
  t.ok(rr.every((r) => !/\bnpm (ci|install|i)\b/.test(r) || /--omit[= ]dev/.test(r)), 'no install with dev dependencies')
  t.ok(rr.every((r) => !/\b(tsc|npm run build)\b/.test(r)), 'no compilation in the runtime stage')
  const copies = of(runtime, 'COPY')
  const fromBuild = copies.filter((c) => copyFrom(c) !== null)
  t.ok(fromBuild.some((c) => copyFrom(c) === (build.name ?? '0') && copySources(c).some((s) => /\/dist\/?$/.test(s))), 'the compiled dist/ comes from the build stage')
  const local = copies.filter((c) => copyFrom(c) === null).flatMap(copySources)
  t.same(local.sort(), ['package-lock.json', 'package.json'], 'from the context only the manifest and lock file')
  t.ok(copies.every((c) => copyDest(c) !== '/' && copyDest(c) !== ''), 'nothing copied to /')

  const checks = of(runtime, 'HEALTHCHECK') as Healthcheck[]
  t.equal(checks.length, 1, 'one HEALTHCHECK')
  const hc = healthcheckCommand(checks[0])
  t.equal(hc[0], 'node', 'the health check runs node (exec form)')
  const script = hc.join(' ')
  t.match(script, /\bfetch\(/, "with node's built-in fetch")
  t.match(script, /\/health\b/, 'against /health')
  t.match(script, /process\.env\.PORT/, 'on the configured PORT')
  t.notMatch(dockerfile.getInstructions().map((i) => i.toString()).join('\n'), /\b(curl|wget)\b/, 'no curl or wget in any instruction')

  const cmds = of(runtime, 'CMD')
  t.equal(cmds.length, 1, 'one CMD')
  t.equal(startCommand[0], 'node', 'npm start runs node')
  t.equal(startCommand[startCommand.length - 1], 'dist/src/server.js', 'npm start runs the compiled server')
  t.same(jsonArgs(cmds[0]), startCommand, `CMD is npm start's command (${startCommand.join(' ')}) in exec form: the same node flags, and signals reach node with no npm or shell in between`)
  t.equal(of(runtime, 'ENTRYPOINT').length, 0, 'no ENTRYPOINT wrapping the command')
  const stop = of(runtime, 'STOPSIGNAL').map((i) => i.getArgumentsContent())
  t.ok(stop.length === 0 || stop[0] === 'SIGTERM', 'stops with SIGTERM (graceful shutdown)')
})

t.test('.dockerignore keeps the context small and never hides what the Dockerfile copies', async (t) => {
  const content = await readFile(join(ROOT, '.dockerignore'), 'utf8').catch(() => null)
  if (content === null) { t.fail('.dockerignore exists'); return }
  const ignored = dockerignoreMatcher(content)
  for (const p of ['node_modules', 'node_modules/fastify/package.json', 'dist', 'dist/src/server.js', '.git', 'test', 'test/ops/dockerfile.test.ts', 'coverage', '.tap', 'load/results', 'server.log', 'npm-debug.log']) {
    t.ok(ignored(p), `excludes ${p}`)
  }
  for (const p of [...BUILD_INPUTS, 'src/server.ts', 'src/sim/rmap.ts', 'routes/health.ts', 'schemas/common.ts']) {
    t.notOk(ignored(p), `keeps ${p}`)
  }
})

t.test('package-lock.json matches package.json (npm ci would refuse otherwise)', async (t) => {
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dependencies?: Record<string, string>, devDependencies?: Record<string, string> }> }
  t.same(lock.packages['']?.dependencies ?? {}, pkg.dependencies, 'dependencies')
  t.same(lock.packages['']?.devDependencies ?? {}, pkg.devDependencies, 'devDependencies')
})

/** Bare module specifiers imported by the compiled files under `dir`. */
async function importsOf (dir: string): Promise<Map<string, string>> {
  const found = new Map<string, string>()
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) await walk(p)
      else if (e.name.endsWith('.js')) {
        const js = await readFile(p, 'utf8')
        const specs = [
          ...js.matchAll(/^\s*import\s+(?:[^'";]*?\bfrom\s*)?['"]([^'"\n]+)['"]/gm),
          ...js.matchAll(/^\s*export\s+[^'";]*?\bfrom\s*['"]([^'"\n]+)['"]/gm),
          ...js.matchAll(/\bimport\(\s*['"]([^'"\n]+)['"]\s*\)/g)
        ].map((m) => m[1])
        for (const spec of specs) {
          if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0])) continue
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]
          if (!found.has(name)) found.set(name, relative(dir, p))
        }
      }
    }
  }
  await walk(dir)
  return found
}

/** Close codes of the unmasked close frames (opcode 8, payload under 126 bytes) in a server-to-client byte stream. */
function closeCodes (bytes: Buffer): number[] {
  const codes: number[] = []
  for (let i = bytes.indexOf(0x88); i >= 0 && i + 3 < bytes.length; i = bytes.indexOf(0x88, i + 1)) {
    const len = bytes[i + 1]
    if (len >= 2 && len < 126) codes.push(bytes.readUInt16BE(i + 2))
  }
  return codes
}

/** Resolves once a TCP connection to 127.0.0.1:port is refused (polls every 20 ms). */
async function refused (port: number): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1')
      s.once('connect', () => { s.destroy(); resolve(false) })
      s.once('error', () => { resolve(true) })
    })
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

// ---- The image's build and command, outside Docker ----

/** The build stage's context copies, relative to its WORKDIR. */
function buildStageCopies (): Array<{ from: string, to: string }> {
  const out: Array<{ from: string, to: string }> = []
  for (const c of of(build, 'COPY').filter((i) => copyFrom(i) === null)) {
    const dest = copyDest(c).replace(/^\.\/?/, '')
    for (const src of copySources(c)) out.push({ from: src, to: dest === '' || copyDest(c).endsWith('/') ? join(dest, src) : dest })
  }
  return out
}

const command = jsonArgs(of(runtime, 'CMD')[0] ?? ({ getJSONStrings: () => [] } as unknown as Instruction))
const hcCommand = (() => { try { return healthcheckCommand((of(runtime, 'HEALTHCHECK') as Healthcheck[])[0]) } catch { return null } })()

t.test('the image build and CMD, outside Docker', async (t) => {
  const ctx = await stageContext(t, buildStageCopies())
  const built = await buildIn(ctx)
  t.equal(built.code, 0, `npx tsc -p tsconfig.build.json compiles the copied sources${built.code === 0 ? '' : `:\n${built.stdout}${built.stderr}`}`)
  const entry = await stat(join(ctx, 'dist/src/server.js')).catch(() => null)
  t.ok(entry?.isFile(), 'dist/src/server.js exists')
  if (built.code !== 0 || entry === null) return

  t.test('the compiled server imports production dependencies only (the image runs npm ci --omit=dev)', async (t) => {
    const imports = await importsOf(join(ctx, 'dist'))
    t.ok(imports.size > 0, 'found the imports')
    for (const [name, file] of imports) t.ok(name in pkg.dependencies, `${name} (imported by dist/${file}) is in dependencies`)
  })

  const env = { NODE_ENV: 'production', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info' }

  t.test('starts, logs its address as JSON, answers /health, and passes the HEALTHCHECK command', async (t) => {
    const { server, url } = await startServer(t, ctx, command, env)
    t.ok(server.logs.length > 0 && server.rawLines.length === 0, 'stdout is pino JSON lines')
    const health = await fetch(`${url}/health`)
    t.equal(health.status, 200, 'GET /health')
    t.same(await health.json(), { status: 'ok' })
    const ready = await fetch(`${url}/ready`)
    t.equal(ready.status, 200, 'GET /ready')
    if (hcCommand !== null) {
      const [prog, ...args] = hcCommand
      const hc = await run(prog === 'node' ? process.execPath : prog, args, { cwd: ctx, env: containerEnv({ PORT: new URL(url).port }), timeoutMs: 10_000 })
      t.equal(hc.code, 0, `the HEALTHCHECK command succeeds against the running server ${hc.stderr}`)
    }
    const t0 = Date.now()
    server.proc.kill('SIGTERM')
    const exit = await withTimeout(server.exited, 15_000, 'the exit after SIGTERM')
    t.same(exit, { code: 0, signal: null }, `an idle server exits 0 on SIGTERM (${Date.now() - t0} ms)`)
    if (hcCommand !== null) {
      const [prog, ...args] = hcCommand
      const hc = await run(prog === 'node' ? process.execPath : prog, args, { cwd: ctx, env: containerEnv({ PORT: new URL(url).port }), timeoutMs: 10_000 })
      t.not(hc.code, 0, 'the HEALTHCHECK command fails once the server is gone')
    }
  })

  /**
   * SIGTERM with a WebSocket subscribed to a session's events and an HTTP request in flight: the
   * request's headers are in, its body is not, so the server has begun handling it when the signal
   * comes; the rest of the body is sent after the shutdown has started.
   */
  const shutdownScenario = (keepAlive: boolean) => async (t: Test) => {
    const { server, url } = await startServer(t, ctx, command, env)
    const json = async (method: string, path: string, body?: unknown, token?: string): Promise<{ status: number, body: any }> => {
      const r = await fetch(url + path, {
        method,
        headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
        body: body === undefined ? undefined : JSON.stringify(body)
      })
      return { status: r.status, body: await r.json() }
    }
    const session = await json('POST', '/v1/sessions', { kernel: '6.18' })
    t.equal(session.status, 201, 'session created')
    const { id, token } = session.body as { id: string, token: string }
    const base = `/v1/sessions/${id}`
    const proc = await json('POST', `${base}/processes`, {}, token)
    t.equal(proc.status, 201, 'process spawned')
    const vma = await json('POST', `${base}/processes/${proc.body.pid as number}/mmap`, { pages: 64 }, token)
    t.equal(vma.status, 201, 'memory mapped')

    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${base}/events`, { headers: { authorization: `Bearer ${token}` } })
    t.teardown(() => { ws.terminate() })
    const closed = new Promise<{ code: number, reason: string }>((resolve) => { ws.on('close', (code, reason) => { resolve({ code, reason: reason.toString() }) }) })
    const hello = await withTimeout(new Promise<any>((resolve, reject) => {
      ws.once('message', (m) => { resolve(JSON.parse(m.toString())) })
      ws.once('error', reject)
    }), 5000, 'the WebSocket hello')
    t.equal(hello.type, 'hello', 'WebSocket subscribed')

    const body = JSON.stringify({ addr: vma.body.start, op: 'write' })
    const agent = keepAlive ? new http.Agent({ keepAlive: true }) : false
    if (agent !== false) t.teardown(() => { agent.destroy() })
    const req = http.request(`${url}${base}/processes/${proc.body.pid as number}/access`, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}`, 'x-request-id': 'in-flight-1' }
    })
    const response = new Promise<{ status: number, connection: string | undefined, body: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let data = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => { data += c })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: data }) })
        res.on('error', reject)
      })
      req.on('error', reject)
    })
    const clientSocket = new Promise<net.Socket>((resolve) => { req.once('socket', resolve) })
    req.write(body.slice(0, 5))
    await server.waitForLog((l) => l.reqId === 'in-flight-1' && l.msg === 'incoming request', 5000, 'the in-flight request to reach the server')

    const t0 = Date.now()
    server.proc.kill('SIGTERM')
    await server.waitForLog((l) => l.msg === 'shutting down', 5000, 'the "shutting down" log line')
    const close = await withTimeout(closed, 5000, 'the WebSocket close')
    t.equal(close.code, 1001, `the WebSocket is closed with 1001 going away (${close.reason})`)
    // Once the listening socket is closed the shutdown is past its preClose hooks: only then is the
    // in-flight request allowed to finish, so its connection is not idle when the server starts closing.
    const port = Number(new URL(url).port)
    await withTimeout(refused(port), 5000, 'new connections to be refused')
    t.pass('new connections are refused once the shutdown has begun')
    t.ok(server.running, 'the server waits for the in-flight request')

    req.end(body.slice(5))
    const res = await withTimeout(response, 5000, 'the in-flight response')
    t.equal(res.status, 200, 'the in-flight request completes with 200')
    t.match(JSON.parse(res.body), { op: 'write', path: 'anon_alloc' }, 'and its work was done')
    if (keepAlive) {
      const socket = await clientSocket
      const gone = socket.destroyed || await withTimeout(new Promise<boolean>((resolve) => { socket.once('close', () => { resolve(true) }) }), 3000, 'the server to close the connection').catch(() => false)
      t.ok(gone, `the server closes the kept-alive connection once its request is answered (response header connection: ${res.connection ?? 'none'})`)
    }

    const exit = await withTimeout(server.exited, 15_000, 'the exit after SIGTERM')
    const elapsed = Date.now() - t0
    t.same(exit, { code: 0, signal: null }, `the process exits with code 0 (exited after ${elapsed} ms; stderr: ${server.stderr.trim() || 'none'})`)
    t.ok(elapsed < 10_000, `within 10 s of SIGTERM (${elapsed} ms)`)
    t.same(server.logs.filter((l) => (l.level ?? 0) >= 50).map((l) => l.msg), [], 'no error logged')
  }

  t.test('graceful shutdown with a WebSocket peer that never answers the close frame: exit 0 within the grace period', async (t) => {
    // A stalled or vanished client (sleeping laptop, dropped network) completes no close handshake.
    const { server, url } = await startServer(t, ctx, command, env)
    const created = await fetch(`${url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kernel: '6.18' }) })
    const { id, token } = await created.json() as { id: string, token: string }
    const port = Number(new URL(url).port)
    const sock = net.connect(port, '127.0.0.1')
    t.teardown(() => { sock.destroy() })
    let received = Buffer.alloc(0)
    const upgraded = new Promise<void>((resolve, reject) => {
      sock.on('data', (d: Buffer) => { received = Buffer.concat([received, d]); if (received.includes('\r\n\r\n')) resolve() })
      sock.on('error', reject)
    })
    sock.write(`GET /v1/sessions/${id}/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${token}\r\n\r\n`)
    await withTimeout(upgraded, 5000, 'the WebSocket upgrade')
    t.match(received.toString('latin1'), /^HTTP\/1\.1 101 /, 'upgraded to a WebSocket')

    const t0 = Date.now()
    server.proc.kill('SIGTERM')
    const exit = await withTimeout(server.exited, 15_000, 'the exit after SIGTERM')
    const elapsed = Date.now() - t0
    t.ok(closeCodes(received).includes(1001), 'the server sent it a close frame with 1001')
    t.same(exit, { code: 0, signal: null }, `the process exits with code 0 (exited after ${elapsed} ms; stderr: ${server.stderr.trim() || 'none'})`)
    t.ok(elapsed < 10_000, `within 10 s of SIGTERM (${elapsed} ms)`)
  })

  t.test('graceful shutdown: in-flight request (Connection: close client) completes, WebSocket gets 1001, exit 0', shutdownScenario(false))
  t.test('graceful shutdown with a keep-alive client (a proxy or load balancer): in-flight request completes, exit 0 within the grace period', shutdownScenario(true))
})
