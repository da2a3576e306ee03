import t from 'tap'
import { ConfigError, envSchema, loadConfig } from '../../src/config.js'
import { buildIn, buildInputCopies, containerEnv, run, stageContext } from './support.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

// Compiles the server (tsc) and runs it: more than the default per-file timeout on a busy machine.
t.setTimeout(300_000)

/** loadConfig(env) must throw a ConfigError whose message names `variable` (and quotes the bad value). */
function rejects (t: Test, env: Record<string, string>, variable: string): void {
  let caught: unknown
  try {
    loadConfig(env)
  } catch (err) {
    caught = err
  }
  t.ok(caught instanceof ConfigError, `${JSON.stringify(env)} is rejected with a ConfigError`)
  if (!(caught instanceof ConfigError)) return
  t.equal(caught.name, 'ConfigError')
  t.match(caught.message, new RegExp(`\\b${variable}=`), `the message names ${variable}`)
  t.ok(caught.issues.some((i) => i.startsWith(`${variable}=`)), `an issue for ${variable}`)
  const value = env[variable]
  if (value === undefined) return
  if (variable === 'ADMIN_TOKEN') t.notOk(caught.message.includes(value), 'the message does not repeat the token (a secret: it goes to logs)')
  else t.ok(caught.message.includes(JSON.stringify(value)), `the message shows the bad value ${JSON.stringify(value)}`)
}

t.test('defaults', async (t) => {
  const c = loadConfig({})
  t.same(c, {
    HOST: '127.0.0.1',
    PORT: 3000,
    LOG_LEVEL: 'info',
    SESSION_IDLE_SECONDS: 1800,
    MAX_SESSIONS: 1000,
    SESSION_MAX_PROCESSES: 256,
    SESSION_MAX_VMAS: 4096,
    SESSION_MAX_FRAMES: 262144,
    SESSION_MAX_FILES: 64,
    SESSION_MAX_FILE_PAGES: 65536,
    SESSION_MAX_SWAP_SLOTS: 262144,
    BODY_LIMIT: 1048576,
    EVENT_HISTORY: 4096,
    WS_MAX_BUFFERED_BYTES: 4194304,
    WS_PING_INTERVAL_MS: 30000,
    WS_MAX_MESSAGE_BYTES: 16384,
    MAX_BATCH_OPS: 1000,
    CORS_ORIGINS: [],
    TRUST_PROXY: false,
    RATE_LIMIT_PER_MINUTE: 6000,
    REQUEST_TIMEOUT_MS: 30000,
    VALIDATE_RESPONSES: false,
    SHUTDOWN_GRACE_MS: 10000,
    LEASE_MS: 3000,
    SNAPSHOT_EVERY: 500,
    STORE_TIMEOUT_MS: 2000
  }, 'every variable has its documented default')
  t.notOk('ADMIN_TOKEN' in c && c.ADMIN_TOKEN !== undefined, 'no admin token by default (listing sessions disabled)')
  t.same(loadConfig({ PORT: '', LOG_LEVEL: '', TRUST_PROXY: '' }), c, 'an empty variable counts as unset')
  t.same(loadConfig({ UNRELATED: 'x', npm_config_foo: 'y' }), c, 'unknown variables are ignored')
  t.same(Object.keys(envSchema.shape).sort(), [...new Set([...Object.keys(c), 'ADMIN_TOKEN'])].sort(), 'the defaults cover every variable (ADMIN_TOKEN has none)')
})

t.test('valid values are parsed', async (t) => {
  const c = loadConfig({
    HOST: '0.0.0.0',
    PORT: '8080',
    LOG_LEVEL: 'warn',
    SESSION_IDLE_SECONDS: '60',
    MAX_SESSIONS: '5',
    ADMIN_TOKEN: '0123456789abcdef',
    TRUST_PROXY: 'true',
    RATE_LIMIT_PER_MINUTE: '0',
    BODY_LIMIT: '2048'
  })
  t.match(c, { HOST: '0.0.0.0', PORT: 8080, LOG_LEVEL: 'warn', SESSION_IDLE_SECONDS: 60, MAX_SESSIONS: 5, ADMIN_TOKEN: '0123456789abcdef', TRUST_PROXY: true, RATE_LIMIT_PER_MINUTE: 0, BODY_LIMIT: 2048 })
  t.equal(loadConfig({ PORT: '0' }).PORT, 0, 'PORT=0: any free port')
  t.equal(loadConfig({ PORT: '65535' }).PORT, 65535)
  for (const [v, b] of [['true', true], ['1', true], ['false', false], ['0', false]] as const) {
    t.equal(loadConfig({ TRUST_PROXY: v }).TRUST_PROXY, b, `TRUST_PROXY=${v}`)
  }
  for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) {
    t.equal(loadConfig({ LOG_LEVEL: level }).LOG_LEVEL, level, `LOG_LEVEL=${level}`)
  }
})

t.test('bad values are rejected with a ConfigError naming the variable', async (t) => {
  rejects(t, { PORT: 'abc' }, 'PORT')
  rejects(t, { PORT: '70000' }, 'PORT')
  rejects(t, { PORT: '-1' }, 'PORT')
  rejects(t, { PORT: '80.5' }, 'PORT')
  rejects(t, { LOG_LEVEL: 'loud' }, 'LOG_LEVEL')
  rejects(t, { SESSION_IDLE_SECONDS: '0' }, 'SESSION_IDLE_SECONDS')
  rejects(t, { ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN')
  rejects(t, { ADMIN_TOKEN: '0123456789abcde' }, 'ADMIN_TOKEN')
  rejects(t, { TRUST_PROXY: 'maybe' }, 'TRUST_PROXY')
  rejects(t, { MAX_SESSIONS: '0' }, 'MAX_SESSIONS')
  rejects(t, { BODY_LIMIT: '10' }, 'BODY_LIMIT')
  rejects(t, { SHUTDOWN_GRACE_MS: 'soon' }, 'SHUTDOWN_GRACE_MS')
})

t.test('several bad values: one ConfigError naming each', async (t) => {
  try {
    loadConfig({ PORT: 'abc', LOG_LEVEL: 'loud', TRUST_PROXY: 'maybe' })
    t.fail('should throw')
  } catch (err) {
    t.ok(err instanceof ConfigError)
    const e = err as ConfigError
    t.equal(e.issues.length, 3, 'three issues')
    for (const v of ['PORT', 'LOG_LEVEL', 'TRUST_PROXY']) t.match(e.message, `${v}=`, `names ${v}`)
  }
})

t.test('blank (whitespace-only) numbers are not read as 0', async (t) => {
  // Number(' ') === 0: PORT=' ' would listen on a random port, RATE_LIMIT_PER_MINUTE=' ' would turn
  // rate limiting off. A blank value must be an error (or count as unset, like an empty one).
  for (const name of ['PORT', 'RATE_LIMIT_PER_MINUTE', 'EVENT_HISTORY']) {
    let value: unknown
    try { value = (loadConfig({ [name]: ' ' }) as Record<string, unknown>)[name] } catch (err) { value = err }
    const def = (loadConfig({}) as Record<string, unknown>)[name]
    t.ok(value instanceof ConfigError || value === def, `${name}=' ' is rejected or means the default (got ${value instanceof Error ? 'an error' : JSON.stringify(value)})`)
  }
})

t.test('CORS_ORIGINS: a comma-separated list, blanks dropped', async (t) => {
  t.same(loadConfig({}).CORS_ORIGINS, [], 'unset: CORS closed')
  t.same(loadConfig({ CORS_ORIGINS: '' }).CORS_ORIGINS, [], 'empty: CORS closed')
  t.same(loadConfig({ CORS_ORIGINS: 'http://a.example' }).CORS_ORIGINS, ['http://a.example'])
  t.same(loadConfig({ CORS_ORIGINS: ' http://a.example , https://b.example:8443,, ' }).CORS_ORIGINS, ['http://a.example', 'https://b.example:8443'], 'trimmed, empty entries dropped')
  t.same(loadConfig({ CORS_ORIGINS: ' , ' }).CORS_ORIGINS, [], 'only separators: CORS closed')
})

t.test('node dist/src/server.js refuses to start on a bad variable', async (t) => {
  const ctx = await stageContext(t, buildInputCopies())
  const built = await buildIn(ctx)
  t.equal(built.code, 0, `npx tsc -p tsconfig.build.json${built.code === 0 ? '' : `:\n${built.stdout}${built.stderr}`}`)
  if (built.code !== 0) return

  const bad = await run(process.execPath, ['dist/src/server.js'], { cwd: ctx, env: containerEnv({ HOST: '127.0.0.1', PORT: 'abc' }), timeoutMs: 15_000 })
  t.not(bad.code, 0, `PORT=abc: exits non-zero (${String(bad.code)})`)
  t.not(bad.code, null, 'exits by itself (not killed by the timeout)')
  t.match(bad.stderr, /\bPORT\b/, 'the message names PORT')
  t.match(bad.stderr, /"abc"/, 'and shows the bad value')
  t.notMatch(bad.stdout + bad.stderr, /Server listening/, 'never listens')
  t.notMatch(bad.stderr, /\n\s+at /, 'a message, not a stack trace')

  const two = await run(process.execPath, ['dist/src/server.js'], { cwd: ctx, env: containerEnv({ HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'loud', ADMIN_TOKEN: 'short' }), timeoutMs: 15_000 })
  t.not(two.code, 0, 'LOG_LEVEL=loud ADMIN_TOKEN=short: exits non-zero')
  t.match(two.stderr, /\bLOG_LEVEL\b/, 'names LOG_LEVEL')
  t.match(two.stderr, /\bADMIN_TOKEN\b/, 'names ADMIN_TOKEN')
  t.notMatch(two.stderr, /short/, 'without printing the token')
})
