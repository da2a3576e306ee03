import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import WebSocket from 'ws'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { buildTestApp, call, createSession } from '../helper.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

/** The value of one Prometheus sample, e.g. sample(text, 'rmap_sessions') or with labels. */
function sample (text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line)
    if (m === null || m[1] !== name) continue
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]))
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3])
  }
  return undefined
}

async function metrics (app: FastifyInstance): Promise<string> {
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  if (res.statusCode !== 200) throw new Error(`/metrics: ${res.statusCode}`)
  return res.body
}

/** A process with one written anonymous page; returns its pid and the page's frame. */
async function touchedPage (app: FastifyInstance, s: Awaited<ReturnType<typeof createSession>>): Promise<{ pid: number, pfn: number }> {
  const p = await call(app, s, 'POST', '/processes', {})
  const pid = (p.json() as { pid: number }).pid
  const v = await call(app, s, 'POST', `/processes/${pid}/mmap`, { pages: 2 })
  const start = (v.json() as { start: string }).start
  const a = await call(app, s, 'POST', `/processes/${pid}/access`, { addr: start, op: 'write' })
  if (a.statusCode !== 200) throw new Error(`access: ${a.statusCode} ${a.body}`)
  return { pid, pfn: (a.json() as { pfn: number }).pfn }
}

const isErrorShape = (t: Test, res: LightMyRequestResponse, status: number, code: string): void => {
  t.equal(res.statusCode, status, `status ${status}`)
  t.match(res.headers['content-type'], /^application\/json/, 'a JSON body')
  const body = res.json() as { error?: { code?: unknown, message?: unknown } }
  t.equal(body.error?.code, code, `error.code is ${code}`)
  t.type(body.error?.message, 'string', 'error.message is a string')
}

t.test('/health answers 200', async (t) => {
  const app = await buildTestApp(t)
  const res = await app.inject({ method: 'GET', url: '/health' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ok' })
  t.ok(res.headers['x-request-id'], 'carries a request id')
})

t.test('/ready', async (t) => {
  t.test('200 normally', async (t) => {
    const app = await buildTestApp(t)
    const res = await app.inject({ method: 'GET', url: '/ready' })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { ready: true, sessions: 0, maxSessions: 1000, store: 'none' })
  })

  t.test('503 at the session cap, 200 again once a session is gone', async (t) => {
    const app = await buildTestApp(t, { MAX_SESSIONS: '1' })
    t.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 200, 'ready with no session')
    const s = await createSession(app)
    const full = await app.inject({ method: 'GET', url: '/ready' })
    t.equal(full.statusCode, 503, 'not ready at the cap')
    t.match(full.json(), { ready: false, reason: /session cap/, sessions: 1, maxSessions: 1 })
    const refused = await app.inject({ method: 'POST', url: '/v1/sessions', payload: { kernel: '6.18' } })
    isErrorShape(t, refused, 429, 'limit')
    t.equal((await call(app, s, 'DELETE', '')).statusCode, 204, 'session deleted')
    const again = await app.inject({ method: 'GET', url: '/ready' })
    t.equal(again.statusCode, 200, 'ready again')
    t.same(again.json(), { ready: true, sessions: 0, maxSessions: 1, store: 'none' })
  })

  t.test('503 while shutting down', async (t) => {
    // A /ready request is held in its onRequest hook while app.close() runs the preClose hooks, then
    // let through: the handler sees the server shutting down.
    const app = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent', RATE_LIMIT_PER_MINUTE: '0' }), logger: false })
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => { release = resolve })
    let held: () => void = () => {}
    const arrived = new Promise<void>((resolve) => { held = resolve })
    app.addHook('onRequest', async (request) => {
      if (request.url === '/ready' && request.headers['x-hold'] === '1') { held(); await gate }
    })
    await app.ready()
    t.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 200, 'ready before the shutdown')
    const pending = app.inject({ method: 'GET', url: '/ready', headers: { 'x-hold': '1' } })
    await arrived
    const closing = app.close()
    await new Promise((resolve) => setImmediate(resolve))
    t.equal(app.shuttingDown, true, 'the preClose hook marks the server as shutting down')
    release()
    const res = await pending
    t.equal(res.statusCode, 503, 'not ready while shutting down')
    t.match(res.json(), { ready: false, reason: /shutting down/ })
    await closing
  })
})

t.test('/metrics: Prometheus text with the rmap gauges, request counts and walk durations', async (t) => {
  const app = await buildTestApp(t)
  const first = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(first.statusCode, 200)
  t.match(first.headers['content-type'], /^text\/plain; version=0\.0\.4/, 'the Prometheus text format')
  for (const name of ['rmap_sessions', 'rmap_processes', 'rmap_frames_in_use', 'rmap_ws_subscribers', 'rmap_walk_duration_seconds', 'rmap_http_requests_total']) {
    t.match(first.body, new RegExp(`^# TYPE ${name} (gauge|counter|histogram)$`, 'm'), `${name} is declared`)
  }
  t.equal(sample(first.body, 'rmap_sessions'), 0, 'no session yet')
  t.equal(sample(first.body, 'rmap_walk_duration_seconds_count'), 0, 'no walk yet')
  t.match(first.body, /^rmap_process_cpu_user_seconds_total /m, 'default process metrics, prefixed')

  const s = await createSession(app)
  const { pfn } = await touchedPage(app, s)
  const walk = await call(app, s, 'GET', `/frames/${pfn}/rmap`)
  t.equal(walk.statusCode, 200, 'GET /frames/:pfn/rmap')
  await app.inject({ method: 'GET', url: '/health' })
  await app.inject({ method: 'GET', url: '/no/such/route/12345' })
  await app.inject({ method: 'GET', url: `/v1/sessions/${s.id}/processes`, headers: { authorization: 'Bearer wrong' } })

  const body = await metrics(app)
  t.equal(sample(body, 'rmap_sessions'), 1, 'rmap_sessions 1')
  t.equal(sample(body, 'rmap_processes'), 1, 'rmap_processes 1')
  const summary = (await call(app, s, 'GET', '')).json() as { counts: { framesInUse: number } }
  t.ok((sample(body, 'rmap_frames_in_use') ?? 0) > 0, 'rmap_frames_in_use counts the faulted page (and page tables)')
  t.equal(sample(body, 'rmap_frames_in_use'), summary.counts.framesInUse, 'rmap_frames_in_use agrees with the session summary')
  t.equal(sample(body, 'rmap_walk_duration_seconds_count'), 1, 'one rmap walk observed')
  t.ok((sample(body, 'rmap_walk_duration_seconds_sum') ?? -1) >= 0, 'with its duration')
  t.equal(sample(body, 'rmap_walk_duration_seconds_bucket', { le: '+Inf' }), 1, 'in the histogram buckets')

  t.equal(sample(body, 'rmap_http_requests_total', { method: 'POST', route: '/v1/sessions', status: '201' }), 1, 'POST /v1/sessions 201 counted')
  t.equal(sample(body, 'rmap_http_requests_total', { method: 'GET', route: '/health', status: '200' }), 1, 'GET /health 200 counted')
  t.equal(sample(body, 'rmap_http_requests_total', { method: 'GET', route: '/v1/sessions/:sid/frames/:pfn/rmap', status: '200' }), 1, 'routes are labelled by their pattern')
  t.equal(sample(body, 'rmap_http_requests_total', { method: 'GET', route: '/v1/sessions/:sid/processes', status: '401' }), 1, 'a 401 counted with its status')
  t.ok(sample(body, 'rmap_http_requests_total', { method: 'GET', status: '404' }) !== undefined, 'a 404 counted')
  t.notMatch(body, s.id, 'no session id in any label (bounded cardinality)')
  t.notMatch(body, /no\/such\/route/, 'unknown URLs are not labels')
  t.match(body, /^rmap_http_request_duration_seconds_count\{method="GET",route="\/health"\} 1$/m, 'request durations by route')
})

t.test('/metrics: rmap_ws_subscribers follows the event WebSockets', async (t) => {
  // Over a real socket: a WebSocket closed by the client must leave the gauge.
  const app = await buildTestApp(t)
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  const s = await createSession(app)
  t.equal(sample(await metrics(app), 'rmap_ws_subscribers'), 0, 'none before')
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${s.base}/events`, { headers: s.headers })
  t.teardown(() => { ws.terminate() })
  const closed = new Promise<void>((resolve) => { ws.on('close', () => { resolve() }) })
  await new Promise<void>((resolve, reject) => { ws.once('message', () => { resolve() }); ws.once('error', reject) })
  t.equal(sample(await metrics(app), 'rmap_ws_subscribers'), 1, 'one while connected')
  ws.close(1000, 'done')
  await closed
  t.equal(sample(await metrics(app), 'rmap_ws_subscribers'), 0, 'none after it closed')
})

t.test('rate limiting: RATE_LIMIT_PER_MINUTE=3', async (t) => {
  const app = await buildTestApp(t, { RATE_LIMIT_PER_MINUTE: '3' })
  for (let i = 0; i < 5; i++) {
    for (const url of ['/health', '/ready', '/metrics']) t.equal((await app.inject({ method: 'GET', url })).statusCode, 200, `${url} before the limit (${i + 1})`)
  }
  for (let i = 1; i <= 3; i++) {
    const res = await app.inject({ method: 'POST', url: '/v1/sessions', payload: { kernel: '6.18' } })
    t.equal(res.statusCode, 201, `request ${i} of 3 allowed (the operations routes did not count)`)
    t.equal(res.headers['x-ratelimit-remaining'], String(3 - i), 'x-ratelimit-remaining counts down')
  }
  const fourth = await app.inject({ method: 'POST', url: '/v1/sessions', payload: { kernel: '6.18' } })
  isErrorShape(t, fourth, 429, 'limit')
  t.match(fourth.json(), { error: { code: 'limit', message: /rate limit/, details: { max: 3 } } }, 'the error shape with details')
  t.ok(Number(fourth.headers['retry-after']) > 0, 'retry-after is set')
  const other = await app.inject({ method: 'GET', url: '/v1/sessions' })
  t.equal(other.statusCode, 429, 'the limit is per client, across routes')
  for (const url of ['/health', '/ready', '/metrics']) t.equal((await app.inject({ method: 'GET', url })).statusCode, 200, `${url} still 200 after the limit`)
  const m = await metrics(app)
  t.equal(sample(m, 'rmap_http_requests_total', { method: 'POST', route: '/v1/sessions', status: '429' }), 1, 'the 429 is counted')
})

t.test('rate limiting off: RATE_LIMIT_PER_MINUTE=0', async (t) => {
  const app = await buildTestApp(t, { RATE_LIMIT_PER_MINUTE: '0' })
  const res = await app.inject({ method: 'GET', url: '/health' })
  t.equal(res.headers['x-ratelimit-limit'], undefined, 'no rate limit headers')
})

t.test('CORS', async (t) => {
  t.test('closed when CORS_ORIGINS is unset', async (t) => {
    const app = await buildTestApp(t)
    const res = await app.inject({ method: 'GET', url: '/health', headers: { origin: 'http://a.example' } })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['access-control-allow-origin'], undefined, 'no access-control-allow-origin')
    const pre = await app.inject({ method: 'OPTIONS', url: '/v1/sessions', headers: { origin: 'http://a.example', 'access-control-request-method': 'POST' } })
    t.equal(pre.headers['access-control-allow-origin'], undefined, 'a preflight is not allowed either')
  })

  t.test('CORS_ORIGINS=http://a.example: that origin only', async (t) => {
    const app = await buildTestApp(t, { CORS_ORIGINS: 'http://a.example' })
    const a = await app.inject({ method: 'GET', url: '/health', headers: { origin: 'http://a.example' } })
    t.equal(a.headers['access-control-allow-origin'], 'http://a.example', 'the configured origin is allowed')
    t.match(a.headers.vary, /Origin/i, 'vary: Origin')
    t.match(a.headers['access-control-expose-headers'], /x-request-id/i, 'x-request-id is exposed')
    const b = await app.inject({ method: 'GET', url: '/health', headers: { origin: 'http://b.example' } })
    t.equal(b.statusCode, 200)
    t.equal(b.headers['access-control-allow-origin'], undefined, 'another origin is not')
    const sub = await app.inject({ method: 'GET', url: '/health', headers: { origin: 'http://a.example.evil.test' } })
    t.equal(sub.headers['access-control-allow-origin'], undefined, 'nor one that merely starts with it')

    const pre = await app.inject({ method: 'OPTIONS', url: '/v1/sessions', headers: { origin: 'http://a.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' } })
    t.equal(pre.statusCode, 204, 'preflight answered')
    t.equal(pre.headers['access-control-allow-origin'], 'http://a.example')
    t.match(pre.headers['access-control-allow-headers'], /authorization/i, 'the Authorization header may be sent')
    const preB = await app.inject({ method: 'OPTIONS', url: '/v1/sessions', headers: { origin: 'http://b.example', 'access-control-request-method': 'POST' } })
    t.equal(preB.headers['access-control-allow-origin'], undefined, 'no preflight for another origin')
  })

  t.test('an allowed origin may use every method the API has (DELETE /v1/sessions/:sid)', async (t) => {
    const app = await buildTestApp(t, { CORS_ORIGINS: 'http://a.example' })
    const s = await createSession(app)
    const pre = await app.inject({ method: 'OPTIONS', url: s.base, headers: { origin: 'http://a.example', 'access-control-request-method': 'DELETE', 'access-control-request-headers': 'authorization' } })
    t.equal(pre.headers['access-control-allow-origin'], 'http://a.example')
    const methods = String(pre.headers['access-control-allow-methods'] ?? '').split(',').map((m) => m.trim().toUpperCase())
    t.ok(methods.includes('DELETE'), `DELETE is an allowed method (access-control-allow-methods: ${methods.join(',')})`)
  })
})

t.test('helmet security headers', async (t) => {
  const app = await buildTestApp(t)
  for (const url of ['/health', '/v1/sessions/nope']) {
    const res = await app.inject({ method: 'GET', url })
    t.equal(res.headers['x-content-type-options'], 'nosniff', `${url}: x-content-type-options`)
    t.equal(res.headers['x-frame-options'], 'SAMEORIGIN', `${url}: x-frame-options`)
    t.equal(res.headers['content-security-policy'], undefined, `${url}: JSON needs no content-security-policy`)
    t.match(res.headers['strict-transport-security'], /max-age=\d+/, `${url}: strict-transport-security`)
    t.equal(res.headers['referrer-policy'], 'no-referrer', `${url}: referrer-policy`)
    t.equal(res.headers['cross-origin-opener-policy'], 'same-origin', `${url}: cross-origin-opener-policy`)
    t.equal(res.headers['x-powered-by'], undefined, `${url}: no x-powered-by`)
  }
  const docs = await app.inject({ method: 'GET', url: '/docs/static/index.html' })
  t.match(docs.headers['content-security-policy'], /default-src 'self'/, 'the /docs page sends its own content-security-policy')
})

t.test('a body over BODY_LIMIT is refused with 413 and the JSON error shape', async (t) => {
  const app = await buildTestApp(t, { BODY_LIMIT: '1024' })
  const ok = await app.inject({ method: 'POST', url: '/v1/sessions', payload: { kernel: '6.18' } })
  t.equal(ok.statusCode, 201, 'a small body is accepted')
  const big = await app.inject({ method: 'POST', url: '/v1/sessions', payload: { kernel: '6.18', padding: 'x'.repeat(2048) } })
  isErrorShape(t, big, 413, 'limit')
  const chunked = await app.inject({
    method: 'POST',
    url: '/v1/sessions',
    headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    payload: JSON.stringify({ kernel: '6.18', padding: 'x'.repeat(2048) })
  })
  isErrorShape(t, chunked, 413, 'limit')
  const s = await createSession(app)
  const onSession = await app.inject({ method: 'POST', url: `${s.base}/processes`, headers: { ...s.headers, 'content-type': 'application/json' }, payload: JSON.stringify({ name: 'x'.repeat(4096) }) })
  isErrorShape(t, onSession, 413, 'limit')
})
