import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { buildTestApp, createSession, type TestSession } from '../helper.js'
import { Rng } from '../sim/helpers/prng.js'
import { buildWorld, errorShapeProblems, fingerprint, jsonOf, registeredRoutes, req, type World } from './api-helpers.js'

/**
 * A seeded barrage of malformed and hostile requests at every route: wrong types, missing and extra
 * fields, huge and non-canonical numbers, strings where numbers go, 10,000-level JSON, oversized and
 * invalid bodies, wrong content types, hostile path parameters and query strings, garbage
 * Authorization headers, plus well-formed requests the engine must refuse. Every reply must be a 4xx
 * with the one JSON error shape and an x-request-id; afterwards the server still answers and neither
 * session changed. Reproduce a run with FUZZ_SEED=<seed> (and FUZZ_SAMPLES=<n> per route and category).
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20261125)
const SAMPLES = Number(process.env.FUZZ_SAMPLES ?? 6)
const BODY_LIMIT = 65536
const ADMIN = 'fuzz-admin-token-0123456789'
const DEPTH = 10_000

type Method = 'GET' | 'POST' | 'DELETE'
interface Shot {
  category: string
  route: string
  method: Method
  url: string
  headers: Record<string, string>
  payload?: string
  /** Statuses this particular shot must get (default: any 4xx). */
  expect?: number[]
}

// ------------------------------------------------------------------ hostile values

const deepArray = (n: number): string => '['.repeat(n) + ']'.repeat(n)
const deepObject = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n)

const BAD = {
  addr: ['0xffff800000000000', '-1', '0x', '0x1g', '0X10000000', ' 0x10000000', '0x10000000 ', '0x' + '1'.repeat(17), '', '1e3', '10000000',
    '0xffffffffffffffff', 1e308, 2 ** 64, 2 ** 53, -1, -4096, 1.5, true, null, [], {}, ['0x10000000'], { hex: '0x10000000' }],
  pages: [0, -1, 1.5, 2 ** 36 + 1, 2 ** 64, 1e308, -1e308, '1', '0x1', null, true, [], {}, [1]],
  prot: ['wr', 'rwxx', '', 'RW', 'read', 'xr', 'r w', 7, null, ['r'], true],
  bool: ['true', 'false', 1, 0, null, 'yes', [], {}],
  fixed: ['NOREPLACE', '', 'always', 'fixed', 1, null, true],
  fileRef: ['', 'x'.repeat(256), 5, null, [], {}],
  offset: [-1, 1.5, 2 ** 36 + 1, '0', null, 1e308, true],
  op: ['READ', '', 'fetch', 'rw', 1, null, ['read'], true],
  advice: ['willneed', 'DONTNEED', '', 4, null, ['dontneed']],
  fileName: ['', 'a/b', '/', '../etc/passwd', 'x'.repeat(256), 42, null, ['a'], true],
  filePages: [0, -1, 2 ** 30 + 1, 1.5, '1', null, 1e308, 2 ** 64],
  procName: ['has space', '', 'x'.repeat(65), 'a/b', 'ü', '../etc', '%00', '\u0000', 'a\nb', 42, null, ['P'], true],
  kernel: ['5.0', '', 6.18, null, '2.6.11 ', 'linux', ['6.18']],
  limits: [null, [], 'x', 1, { maxFrames: 1e308 }, { maxFrames: -1 }, { maxFrames: 15 }, { bogus: 1 }, { maxProcesses: '1' }, { maxProcesses: 2 ** 64 }, { maxFiles: 1.5 }]
} as const

const BAD_JSON = ['{', '{"addr":', "{'a':1}", '{"a":1,}', 'NaN', 'undefined', '{"pages":Infinity}', '{"pages":-Infinity}', '[1,2', '\u0000',
  '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}', '{"a":1}{"b":2}', '}', '{"a":"\\x41"}', '{"a":01}', '{"a":.5}', '\uFEFF', 'nul']
const BAD_TYPES = ['application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'text/html', 'application/octet-stream', 'image/png']
// ("%2e%2e" is left out: the URL parser of inject, like any HTTP client, resolves it as "..".)
const BAD_PIDS = ['0', '-1', 'abc', '1.5', '1e400', '99999999999999999999', '%00', '..%2F..', '%20', '9'.repeat(300), '999', String(2 ** 31 + 1), '%', 'NaN', 'Infinity']
const BAD_PFNS = ['-1', 'abc', '1.5', '1e400', String(2 ** 40 + 1), '%00', '..%2F', '99999999', '0', '9'.repeat(300), '%', '%20', 'NaN', '-0.5']
const BAD_NAMES = ['nope', '%00', '..%2F..%2Fetc%2Fpasswd', 'x'.repeat(256), 'x'.repeat(300), '%', '%E0%A4%A', '%2F']
const BAD_SIDS = ['%00', '..', 'x'.repeat(65), 'x'.repeat(300), 'AAAAAAAAAAAAAAAA', '%', '%2F']

// ------------------------------------------------------------------ routes

interface Field { name: string, bad: readonly unknown[], required: boolean }
interface RouteSpec {
  method: Method
  /** Relative to /v1/sessions/:sid, or absolute for the two public routes. */
  route: string
  session: boolean
  valid?: Record<string, unknown>
  fields?: Field[]
  /** A valid query string, and hostile replacements for each of its keys. */
  query?: string
  badQuery?: Record<string, readonly string[]>
  /** No body schema: only transport-level body attacks apply (the body is otherwise ignored). */
  bodyless?: boolean
  /** null is a valid body (POST /processes, fork). */
  nullOk?: boolean
}

const f = (name: string, bad: readonly unknown[], required = false): Field => ({ name, bad, required })
const BAD_ADDR_Q = ['0x', '0x1g', '-1', '0xffff800000000000', '18446744073709551616', '1e308', 'abc', '', '%00', '0x10000000%00', '1.5', '0x%20', '+1', '0o17', '0b1']
const ADDR_Q = [...BAD_ADDR_Q, '0x800000000000', '0x7ffffffff000']

function routeSpecs (w: World): RouteSpec[] {
  const p = w.pid
  return [
    { method: 'POST', route: '/v1/sessions', session: false, valid: { kernel: '6.18' }, fields: [f('kernel', BAD.kernel), f('limits', BAD.limits)] },
    { method: 'GET', route: '/v1/sessions', session: false },
    { method: 'GET', route: '/', session: true },
    { method: 'DELETE', route: '/', session: true, bodyless: true },
    { method: 'POST', route: '/files', session: true, valid: { name: 'fuzzed', pages: 2 }, fields: [f('name', BAD.fileName, true), f('pages', BAD.filePages, true)] },
    { method: 'GET', route: '/files', session: true },
    { method: 'GET', route: `/files/${w.file}`, session: true },
    { method: 'POST', route: `/files/${w.file}/evict`, session: true, bodyless: true },
    { method: 'POST', route: `/files/${w.file}/writeback`, session: true, bodyless: true },
    { method: 'POST', route: '/processes', session: true, valid: { name: 'fuzzed' }, fields: [f('name', BAD.procName)], nullOk: true },
    { method: 'GET', route: '/processes', session: true },
    { method: 'GET', route: `/processes/${p}`, session: true },
    { method: 'POST', route: `/processes/${p}/fork`, session: true, valid: { name: 'fuzzkid' }, fields: [f('name', BAD.procName)], nullOk: true },
    { method: 'POST', route: `/processes/${w.child}/exit`, session: true, bodyless: true },
    {
      method: 'POST',
      route: `/processes/${p}/mmap`,
      session: true,
      valid: { addr: '0x50000000', pages: 2, prot: 'rw', shared: false, fixed: 'noreplace' },
      fields: [f('addr', BAD.addr), f('pages', BAD.pages, true), f('prot', BAD.prot), f('shared', BAD.bool), f('fixed', BAD.fixed), f('file', BAD.fileRef), f('offset', BAD.offset)]
    },
    { method: 'POST', route: `/processes/${p}/munmap`, session: true, valid: { addr: '0x10000000', pages: 1 }, fields: [f('addr', BAD.addr, true), f('pages', BAD.pages, true)] },
    { method: 'POST', route: `/processes/${p}/mprotect`, session: true, valid: { addr: '0x10000000', pages: 1, prot: 'r' }, fields: [f('addr', BAD.addr, true), f('pages', BAD.pages, true), f('prot', BAD.prot, true)] },
    {
      method: 'POST',
      route: `/processes/${p}/mremap`,
      session: true,
      valid: { addr: '0x10000000', pages: 2, newPages: 2, newAddr: '0x60000000', mayMove: true },
      fields: [f('addr', BAD.addr, true), f('pages', BAD.pages, true), f('newPages', BAD.pages, true), f('newAddr', BAD.addr), f('mayMove', BAD.bool)]
    },
    { method: 'POST', route: `/processes/${p}/madvise`, session: true, valid: { addr: '0x10000000', pages: 1, advice: 'dontneed' }, fields: [f('addr', BAD.addr, true), f('pages', BAD.pages, true), f('advice', BAD.advice, true)] },
    { method: 'POST', route: `/processes/${p}/access`, session: true, valid: { addr: '0x10004000', op: 'write' }, fields: [f('addr', BAD.addr, true), f('op', BAD.op, true)] },
    { method: 'GET', route: `/processes/${p}/translate`, session: true, query: 'addr=0x10000000', badQuery: { addr: ADDR_Q } },
    // (A range beyond user space is a valid, empty query for ptes: only malformed addresses here.)
    { method: 'GET', route: `/processes/${p}/ptes`, session: true, query: 'from=0x10000000&to=0x20000000&limit=16', badQuery: { from: BAD_ADDR_Q, to: BAD_ADDR_Q, limit: ['0', '-1', '4097', 'abc', '1e308', '1.5', ''] } },
    {
      method: 'GET',
      route: '/frames',
      session: true,
      query: 'kind=anon&mapped=true&after=0&limit=16',
      badQuery: { kind: ['bogus', 'ANON', ''], mapped: ['yes', '1', 'TRUE', ''], after: ['-1', 'abc', '1e308', '1.5'], limit: ['0', '1025', 'x', '-5'], file: ['nope', 'x'.repeat(256)] }
    },
    { method: 'GET', route: `/frames/${w.anonPfn}`, session: true },
    { method: 'GET', route: `/frames/${w.anonPfn}/rmap`, session: true, query: 'trace=true', badQuery: { trace: ['yes', 'TRUE', '2', '', 'on'] } },
    { method: 'POST', route: `/frames/${w.anonPfn}/referenced`, session: true, bodyless: true },
    { method: 'POST', route: `/frames/${w.anonPfn}/unmap`, session: true, bodyless: true },
    { method: 'POST', route: `/frames/${w.filePfn}/mkclean`, session: true, bodyless: true },
    { method: 'POST', route: `/frames/${w.anonPfn}/migrate`, session: true, bodyless: true },
    { method: 'GET', route: '/check', session: true }
  ]
}

/** The route with one path parameter (pid, pfn, name) replaced, or undefined when it has none. */
function withParam (route: string, rng: Rng): string | undefined {
  if (/^\/processes\/\d+/.test(route)) return route.replace(/^\/processes\/\d+/, `/processes/${rng.pick(BAD_PIDS)}`)
  if (/^\/frames\/\d+/.test(route)) return route.replace(/^\/frames\/\d+/, `/frames/${rng.pick(BAD_PFNS)}`)
  if (/^\/files\/[^/]+/.test(route)) return route.replace(/^\/files\/[^/]+/, `/files/${rng.pick(BAD_NAMES)}`)
  return undefined
}

/** Replaces the "__DEEP__" placeholder of a JSON text by a 10,000-level array or object. */
const deepen = (json: string, rng: Rng): string => json.replace('"__DEEP__"', rng.chance(0.5) ? deepArray(DEPTH) : deepObject(DEPTH))

// ------------------------------------------------------------------ the barrage

function shots (specs: RouteSpec[], s: TestSession, other: TestSession, rng: Rng): Shot[] {
  const out: Shot[] = []
  const json = { 'content-type': 'application/json' }
  for (const spec of specs) {
    const base = spec.session ? s.base : ''
    const label = `${spec.method} ${spec.route.replace(/\/\d+/g, '/:n').replace(`/files/${'lib'}`, '/files/:name')}`
    const auth: Record<string, string> = spec.session ? s.headers : spec.method === 'GET' ? { authorization: `Bearer ${ADMIN}` } : {}
    const url = (route = spec.route, query = spec.query): string => `${base}${route === '/' && spec.session ? '/' : route}${query === undefined ? '' : `?${query}`}`
    const validBody = spec.valid === undefined ? undefined : JSON.stringify(spec.valid)
    const add = (category: string, shot: Omit<Shot, 'category' | 'route'>): void => { out.push({ category, route: label, ...shot }) }

    for (let i = 0; i < SAMPLES; i++) {
      // Bad credentials, with an otherwise valid request: 401 and nothing runs.
      if (spec.session || spec.method === 'GET') {
        const garbage = rng.pick([
          undefined, 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', `Bearer ${'A'.repeat(10000)}`, 'Bearer \u00ff\u00fe\u00fd', 'Bearer null', 'Bearer %00',
          `Bearer ${s.token}x`, `Bearer ${s.token.slice(1)}`, s.token, `Token ${s.token}`, `Bearer ${s.id}`, `Bearer ${other.token}`, `Bearer ${s.token} ${s.token}`,
          spec.session ? `Bearer ${ADMIN}` : `Bearer ${s.token}`
        ])
        const headers: Record<string, string> = { ...(validBody === undefined ? {} : json), ...(garbage === undefined ? {} : { authorization: garbage }) }
        add('bad Authorization', { method: spec.method, url: url(), headers, payload: validBody, expect: [401] })
      }
      if (spec.session) {
        const sid = rng.pick(BAD_SIDS)
        add('hostile session id', { method: spec.method, url: `/v1/sessions/${sid}${spec.route === '/' ? '/' : spec.route}${spec.query === undefined ? '' : `?${spec.query}`}`, headers: { ...auth, ...(validBody === undefined ? {} : json) }, payload: validBody })
      }
      const param = withParam(spec.route, rng)
      if (param !== undefined) add('hostile path parameter', { method: spec.method, url: url(param), headers: { ...auth, ...(validBody === undefined ? {} : json) }, payload: validBody })

      if (spec.badQuery !== undefined) {
        const key = rng.pick(Object.keys(spec.badQuery))
        const params = new URLSearchParams(spec.query)
        params.delete(key)
        const bad = rng.pick(spec.badQuery[key])
        const q = [params.toString(), `${key}=${bad.replace(/ /g, '%20')}`].filter((x) => x !== '').join('&')
        add('hostile query', { method: spec.method, url: url(spec.route, q), headers: auth })
        if (key === 'addr') add('missing query', { method: spec.method, url: url(spec.route, ''), headers: auth })
        const present = [...new URLSearchParams(spec.query).keys()]
        const twice = rng.pick(present)
        add('repeated query key', { method: spec.method, url: url(spec.route, `${spec.query as string}&${twice}=${encodeURIComponent(new URLSearchParams(spec.query).get(twice) as string)}`), headers: auth, expect: [400] })
      }

      if (spec.method === 'GET') continue
      // Transport-level body attacks: every POST and DELETE route parses bodies before its handler runs.
      add('invalid JSON', { method: spec.method, url: url(), headers: { ...auth, ...json }, payload: rng.pick(BAD_JSON), expect: [400] })
      add('empty JSON body', { method: spec.method, url: url(), headers: { ...auth, ...json }, payload: '', expect: [400] })
      add('oversized body', { method: spec.method, url: url(), headers: { ...auth, ...json }, payload: `{"name":"${'a'.repeat(BODY_LIMIT + rng.int(1, 200_000))}"}`, expect: [413] })
      add('wrong content type', { method: spec.method, url: url(), headers: { ...auth, 'content-type': rng.pick(BAD_TYPES) }, payload: validBody ?? '{}', expect: [415] })
      if (spec.bodyless === true) continue

      // Schema attacks on the body.
      const fields = spec.fields ?? []
      const fld = rng.pick(fields)
      add('wrong type or value', { method: spec.method, url: url(), headers: { ...auth, ...json }, payload: JSON.stringify({ ...spec.valid, [fld.name]: rng.pick(fld.bad) }) })
      const required = fields.filter((x) => x.required)
      if (required.length > 0) {
        const body: Record<string, unknown> = { ...spec.valid }
        delete body[rng.pick(required).name]
        add('missing field', { method: spec.method, url: url(), headers: { ...auth, ...json }, payload: JSON.stringify(body), expect: [400] })
      }
      const extraKey = rng.pick(['extra', 'Addr', 'PAGES', '$where', 'constructor', 'toString', 'hasOwnProperty', '', ' ', 'a'.repeat(1000)])
      add('extra field', { method: spec.method, url: url(), headers: { ...auth, ...json }, payload: JSON.stringify({ ...spec.valid, [extraKey]: rng.pick([1, 'x', null, {}, []]) }), expect: [400] })
      add('deeply nested field', { method: spec.method, url: url(), headers: { ...auth, ...json }, payload: deepen(JSON.stringify({ ...spec.valid, [fld.name]: '__DEEP__' }), rng) })
      add('deeply nested body', { method: spec.method, url: url(), headers: { ...auth, ...json }, payload: rng.chance(0.5) ? deepArray(DEPTH) : deepObject(DEPTH), expect: [400] })
      const wrongBody = rng.pick(['"string"', '42', 'true', 'false', '[]', '[{}]', ...(spec.nullOk === true ? [] : ['null'])])
      add('body of the wrong type', { method: spec.method, url: url(), headers: { ...auth, ...json }, payload: wrongBody, expect: [400] })
      add('JSON as text/plain', { method: spec.method, url: url(), headers: { ...auth, 'content-type': 'text/plain' }, payload: validBody ?? '{}', expect: [400, 415] })
    }
  }
  return out
}

/** Well-formed requests the engine must refuse (409, 404, 400, 422), each leaving the state as it was. */
function refusedShots (s: TestSession, w: World): Shot[] {
  const json = { ...s.headers, 'content-type': 'application/json' }
  const post = (route: string, body?: unknown, expect?: number[]): Shot => ({
    category: 'refused by the engine', route: `POST ${route}`, method: 'POST', url: `${s.base}${route}`, headers: body === undefined ? s.headers : json, payload: body === undefined ? undefined : JSON.stringify(body), expect
  })
  const p = w.pid
  return [
    post('/files', { name: 'lib', pages: 1 }, [409]),
    post('/processes', { name: 'P' }, [409]),
    post(`/processes/${p}/fork`, { name: 'C' }, [409]),
    post(`/processes/${p}/mmap`, { addr: '0x10004000', pages: 8 }, [409]),
    post(`/processes/${p}/mmap`, { addr: '0x50000000', pages: 1, file: 'nope' }, [404]),
    post(`/processes/${p}/mmap`, { addr: '0x50000800', pages: 1 }, [400]),
    post(`/processes/${p}/mmap`, { addr: '0x800000000000', pages: 1, fixed: 'replace' }, [400]),
    post(`/processes/${p}/mmap`, { addr: '0x50000000', pages: 1, file: 'lib', offset: 8 }, [400]),
    post(`/processes/${p}/munmap`, { addr: '0x10000001', pages: 1 }, [400]),
    post(`/processes/${p}/munmap`, { addr: '0x7ffffffff000', pages: 2 }, [400]),
    post(`/processes/${p}/mprotect`, { addr: '0x10000000', pages: 9, prot: 'r' }, [400]),
    post(`/processes/${p}/mremap`, { addr: '0x10000000', pages: 2, newPages: 2, newAddr: '0x10001000' }, [400]),
    post(`/processes/${p}/mremap`, { addr: '0x70000000', pages: 1, newPages: 1 }, [400]),
    post(`/processes/${p}/madvise`, { addr: '0x40000000', pages: 1, advice: 'dontneed' }, [400]),
    post(`/processes/${p}/access`, { addr: '0x40000000', op: 'read' }, [422]),
    post(`/processes/${p}/access`, { addr: '0x10003000', op: 'read' }, [422]),
    post(`/processes/${p}/access`, { addr: '0x20000000', op: 'exec' }, [422]),
    post(`/processes/${p}/access`, { addr: '0x7ffffffff000', op: 'read' }, [400]),
    post('/processes/999/access', { addr: '0x10000000', op: 'read' }, [404]),
    post('/processes/999/exit', undefined, [404]),
    post('/files/nope/evict', undefined, [404]),
    post('/files/nope/writeback', undefined, [404]),
    post('/frames/4096/unmap', undefined, [422]),
    post('/frames/4096/migrate', undefined, [422]),
    post('/frames/4097/referenced', undefined, [422]),
    post('/frames/4097/mkclean', undefined, [422]),
    post('/frames/99999999/unmap', undefined, [404])
  ]
}

async function fire (app: FastifyInstance, shot: Shot): Promise<LightMyRequestResponse> {
  return await app.inject({ method: shot.method, url: shot.url, headers: shot.headers, payload: shot.payload })
}

t.test(`fuzz: hostile input at every route (seed ${SEED}, ${SAMPLES} samples per route and category)`, async (t) => {
  const app = await buildTestApp(t, { BODY_LIMIT: String(BODY_LIMIT), ADMIN_TOKEN: ADMIN, MAX_SESSIONS: '100' })
  const s = await createSession(app, '6.18')
  const other = await createSession(app, '2.6.11')
  const w = await buildWorld(app, s)
  await buildWorld(app, other)
  const rng = new Rng(SEED)
  const admin = { authorization: `Bearer ${ADMIN}` }
  const listSessions = async (): Promise<string[]> => ((jsonOf(await app.inject({ method: 'GET', url: '/v1/sessions', headers: admin })) as { sessions: Array<{ id: string }> }).sessions.map((x) => x.id).sort())

  const before = await fingerprint(app, s)
  const beforeOther = await fingerprint(app, other)
  const sessionsBefore = await listSessions()

  const barrage = [...shots(routeSpecs(w), s, other, rng), ...refusedShots(s, w)]
  // Shuffle (seeded) so that no request depends on its neighbours' order.
  for (let i = barrage.length - 1; i > 0; i--) {
    const j = rng.int(0, i)
    const x = barrage[i]; barrage[i] = barrage[j]; barrage[j] = x
  }

  const failures = new Map<string, { routes: Set<string>, example: string }>()
  const byCategory = new Map<string, number>()
  let fiveHundreds = 0
  for (const shot of barrage) {
    byCategory.set(shot.category, (byCategory.get(shot.category) ?? 0) + 1)
    let res: LightMyRequestResponse
    try {
      res = await fire(app, shot)
    } catch (err) {
      failures.set(`${shot.category} | ${shot.route} | inject threw ${(err as Error).message}`, { routes: new Set([shot.route]), example: shot.url.slice(0, 200) })
      continue
    }
    if (res.statusCode >= 500) fiveHundreds++
    const problems: string[] = []
    if (res.statusCode < 400 || res.statusCode >= 500) problems.push(`status ${res.statusCode}`)
    else if (shot.expect !== undefined && !shot.expect.includes(res.statusCode)) problems.push(`status ${res.statusCode}, expected ${shot.expect.join(' or ')}`)
    problems.push(...errorShapeProblems(res))
    if (problems.length > 0) {
      // One entry per category and kind of failure, naming the routes it was seen on and one example.
      const key = `${shot.category} | ${res.statusCode} ${String((jsonOf(res) as { code?: unknown } | undefined)?.code ?? '')} | ${problems.join('; ')}`
      const entry = failures.get(key) ?? { routes: new Set<string>(), example: '' }
      if (entry.example === '') {
        const payload = shot.payload === undefined ? '' : ` body ${shot.payload.length > 100 ? shot.payload.slice(0, 60) + `...(${shot.payload.length} bytes)` : shot.payload}`
        entry.example = `${shot.method} ${shot.url.length > 140 ? shot.url.slice(0, 120) + `...(${shot.url.length} chars)` : shot.url}${payload} -> ${res.statusCode} ${res.body.slice(0, 200)}`
      }
      entry.routes.add(shot.route)
      failures.set(key, entry)
    }
  }
  t.comment(`${barrage.length} requests: ${[...byCategory].map(([c, n]) => `${c} ${n}`).join(', ')}`)
  t.equal(fiveHundreds, 0, 'no 5xx reply')
  t.same([...failures].map(([k, v]) => `${k}\n    on ${v.routes.size} route(s): ${[...v.routes].sort().join(', ')}\n    e.g. ${v.example}`), [], 'every reply is a 4xx (the expected one where there is one) with the one JSON error shape and an x-request-id')

  // The server still answers, and nothing changed.
  const health = await app.inject({ method: 'GET', url: `${s.base}/`, headers: s.headers })
  t.equal(health.statusCode, 200, 'GET /v1/sessions/:sid still answers')
  t.equal(await fingerprint(app, s), before, 'the session is exactly as it was')
  t.equal(await fingerprint(app, other), beforeOther, 'so is the other session')
  t.same(await listSessions(), sessionsBefore, 'no session was created or deleted')
  const check = await req(app, s, 'GET', '/check')
  t.same(check.violations, [], 'the invariants hold')
  const fresh = await app.inject({ method: 'POST', url: '/v1/sessions', payload: { kernel: '6.18' } })
  t.equal(fresh.statusCode, 201, 'new sessions can still be made')
})

t.test(`fuzz: transport-level attacks on every registered route, known or not (seed ${SEED})`, async (t) => {
  const app = await buildTestApp(t, { BODY_LIMIT: String(BODY_LIMIT), ADMIN_TOKEN: ADMIN, MAX_SESSIONS: '100' })
  const s = await createSession(app, '6.18')
  const w = await buildWorld(app, s)
  const rng = new Rng(SEED ^ 0x5a5a)
  const before = await fingerprint(app, s)
  const json = { 'content-type': 'application/json' }
  const routes = registeredRoutes(app)
    .map((r) => { const i = r.indexOf(' '); return { method: r.slice(0, i).toUpperCase(), path: r.slice(i + 1) } })
    .filter((r) => r.path.startsWith('/v1/sessions/{sid}') && ['GET', 'POST', 'DELETE', 'PUT', 'PATCH'].includes(r.method))
  t.ok(routes.length >= 27, `${routes.length} session routes registered`)
  const failures: string[] = []
  let n = 0
  for (const r of routes) {
    const path = r.path.replace('{sid}', s.id).replace('{pid}', String(w.pid)).replace('{pfn}', String(w.anonPfn)).replace('{name}', w.file)
    const hasBody = r.method !== 'GET'
    const attempts: Array<[string, Record<string, string>, string | undefined, number[]]> = [
      ['no token', hasBody ? json : {}, hasBody ? '{}' : undefined, [401]],
      ['wrong token', { authorization: 'Bearer x'.padEnd(50, 'x'), ...(hasBody ? json : {}) }, hasBody ? '{}' : undefined, [401]],
      ['garbage token', { authorization: rng.pick(['Bearer', 'Basic Og==', `Bearer ${'\u00ff'.repeat(8)}`, `Bearer ${'z'.repeat(5000)}`]) }, undefined, [401]]
    ]
    if (hasBody) {
      attempts.push(
        ['invalid JSON', { ...s.headers, ...json }, rng.pick(BAD_JSON), [400]],
        ['oversized body', { ...s.headers, ...json }, `{"x":"${'a'.repeat(BODY_LIMIT + 10)}"}`, [413]],
        ['wrong content type', { ...s.headers, 'content-type': rng.pick(BAD_TYPES) }, '{}', [415]]
      )
    }
    for (const [what, headers, payload, expect] of attempts) {
      n++
      const res = await app.inject({ method: r.method as Method, url: path, headers, payload })
      const problems = errorShapeProblems(res)
      if (!expect.includes(res.statusCode)) problems.unshift(`status ${res.statusCode}, expected ${expect.join(' or ')}`)
      if (problems.length > 0) failures.push(`${r.method} ${r.path} (${what}): ${problems.join('; ')} -> ${res.body.slice(0, 160)}`)
    }
  }
  t.comment(`${n} requests`)
  t.same(failures, [], 'every reply is the expected 4xx with the one error shape')
  t.equal((await app.inject({ method: 'GET', url: `${s.base}/`, headers: s.headers })).statusCode, 200, 'the session still answers')
  t.equal(await fingerprint(app, s), before, 'and is unchanged')
})
