/**
 * Shared helpers of the HTTP API tests (not a test file itself: .taprc runs only *.test.ts).
 * Everything goes through fastify.inject; nothing listens.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { call, type TestSession } from '../helper.js'

/** The assertions these helpers use (tap's Test has them all). */
export interface TapLike {
  same: (found: any, wanted: any, ...rest: any[]) => unknown
  equal: (found: any, wanted: any, ...rest: any[]) => unknown
  ok: (found: any, ...rest: any[]) => unknown
  match: (found: any, pattern: any, ...rest: any[]) => unknown
  fail: (...rest: any[]) => unknown
}

export interface ErrorBody { code: string, message: string, details?: Record<string, unknown> }

export const PAGE = 4096
export const ZERO_PFN = 4096
export const HEX = /^0x[0-9a-f]+$/
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
export const hex = (n: number): string => '0x' + n.toString(16)

/** The raw x86-64 value of a present PTE: the PFN in bits 12+, `bits` below, NX in bit 63. */
export const rawPte = (pfn: number, bits: number, nx = true): string =>
  '0x' + ((nx ? 1n << 63n : 0n) | BigInt(pfn) << 12n | BigInt(bits)).toString(16)

/** x86 PTE bits. */
export const PTE_P = 0x1
export const PTE_RW = 0x2
export const PTE_US = 0x4
export const PTE_A = 0x20
export const PTE_D = 0x40
export const PTE_SPECIAL = 0x200

/** The protection and sharing VMA flags (VM_READ..VM_MAYSHARE) of a flag list, in order; accounting and other flags left out. */
const PROT_FLAGS = ['read', 'write', 'exec', 'shared', 'mayread', 'maywrite', 'mayexec', 'mayshare']
export const protFlags = (flags: string[]): string[] => flags.filter((x) => PROT_FLAGS.includes(x))

/** The body as JSON, or undefined when it is not JSON. */
export function jsonOf (res: LightMyRequestResponse): unknown {
  try { return JSON.parse(res.body) } catch { return undefined }
}

/**
 * Why an error reply is malformed (empty when it is fine): exactly { error: { code, message,
 * details? } }, JSON content type, an x-request-id header, and no stack trace or internals.
 */
export function errorShapeProblems (res: LightMyRequestResponse): string[] {
  const problems: string[] = []
  const body = jsonOf(res) as Record<string, unknown> | undefined
  if (!String(res.headers['content-type'] ?? '').startsWith('application/json')) problems.push(`content-type is ${String(res.headers['content-type'])}`)
  const rid = res.headers['x-request-id']
  if (typeof rid !== 'string' || rid.length === 0) problems.push('no x-request-id header')
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    problems.push(`body is not a JSON object: ${res.body.slice(0, 120)}`)
    return problems
  }
  const keys = Object.keys(body)
  if (keys.length !== 1 || keys[0] !== 'error') problems.push(`top-level keys are ${JSON.stringify(keys)}, not ["error"]`)
  const e = body.error as Record<string, unknown> | undefined
  if (e === null || typeof e !== 'object' || Array.isArray(e)) {
    problems.push(`error is ${JSON.stringify(e)}`)
    return problems
  }
  const extra = Object.keys(e).filter((k) => k !== 'code' && k !== 'message' && k !== 'details')
  if (extra.length > 0) problems.push(`error has extra keys ${JSON.stringify(extra)}`)
  if (typeof e.code !== 'string' || e.code.length === 0) problems.push('error.code is not a string')
  if (typeof e.message !== 'string') problems.push('error.message is not a string')
  if ('details' in e && (e.details === null || typeof e.details !== 'object' || Array.isArray(e.details))) problems.push('error.details is not an object')
  if (/\bat .+\.(ts|js|mjs|cjs):\d+/.test(res.body) || /"stack"/.test(res.body) || /node_modules/.test(res.body)) problems.push('the body leaks a stack trace or a path')
  return problems
}

/** Asserts an error reply of `status` (and `code`) with the one error shape; returns error. */
export function expectError (t: TapLike, res: LightMyRequestResponse, status: number, code?: string, what = ''): ErrorBody {
  const label = what === '' ? '' : `${what}: `
  t.equal(res.statusCode, status, `${label}status ${status} (body ${res.body.slice(0, 300)})`)
  t.same(errorShapeProblems(res), [], `${label}the error reply has the one JSON shape and an x-request-id`)
  const e = ((jsonOf(res) ?? {}) as { error?: ErrorBody }).error ?? { code: '', message: '' }
  if (code !== undefined) t.equal(e.code, code, `${label}error code ${code}`)
  return e
}

/** The `field` of every validation issue of an error. */
export function issueFields (e: ErrorBody): string[] {
  const issues = (e.details?.issues ?? []) as Array<{ field: string, message: string }>
  return issues.map((i) => i.field)
}

/** Asserts a 400 validation error whose issues name every field in `fields`. */
export function expectValidation (t: TapLike, res: LightMyRequestResponse, fields: string[], what = ''): ErrorBody {
  const e = expectError(t, res, 400, 'validation', what)
  const got = issueFields(e)
  for (const f of fields) t.ok(got.includes(f), `${what === '' ? '' : what + ': '}error.details.issues names ${f} (got ${JSON.stringify(got)})`)
  const issues = (e.details?.issues ?? []) as Array<{ field: string, message: string }>
  for (const i of issues) t.ok(typeof i.message === 'string' && i.message.length > 0, `issue ${i.field} has a message`)
  return e
}

/** Asserts a success reply and returns its JSON. */
export function ok<T = any> (t: TapLike, res: LightMyRequestResponse, status = 200, what = ''): T {
  t.equal(res.statusCode, status, `${what === '' ? '' : what + ': '}status ${status} (body ${res.body.slice(0, 300)})`)
  t.ok(typeof res.headers['x-request-id'] === 'string', 'x-request-id header on a success reply')
  return jsonOf(res) as T
}

/** Calls a session route with a JSON body and asserts a success status; returns its JSON. */
export async function must<T = any> (t: TapLike, app: FastifyInstance, s: TestSession, method: 'GET' | 'POST' | 'DELETE', path: string, payload?: unknown, status?: number): Promise<T> {
  const res = await call(app, s, method, path, payload)
  const expected = status ?? (method === 'POST' && (path === '/files' || path === '/processes' || /\/(fork|mmap)$/.test(path)) ? 201 : 200)
  return ok<T>(t, res, expected, `${method} ${path}`)
}

/** Calls and throws (not asserts) on failure: for building state where a failure is a setup bug. */
export async function req<T = any> (app: FastifyInstance, s: TestSession, method: 'GET' | 'POST' | 'DELETE', path: string, payload?: unknown): Promise<T> {
  const res = await call(app, s, method, path, payload)
  if (res.statusCode >= 300) throw new Error(`${method} ${path} ${JSON.stringify(payload)}: ${res.statusCode} ${res.body}`)
  return jsonOf(res) as T
}

/** Every frame in use, following the `next` cursor. */
export async function allFrames (app: FastifyInstance, s: TestSession, query = ''): Promise<Array<Record<string, any>>> {
  const out: Array<Record<string, unknown>> = []
  let after: number | null = null
  for (;;) {
    const q: string = [query, 'limit=1024', after === null ? '' : `after=${after}`].filter((x) => x !== '').join('&')
    const r: { frames: Array<Record<string, unknown>>, next: number | null } = await req(app, s, 'GET', `/frames?${q}`)
    out.push(...r.frames)
    if (r.next === null) return out
    after = r.next
  }
}

/** Every PTE of a process in [from, to), following the `next` cursor. */
export async function allPtes (app: FastifyInstance, s: TestSession, pid: number, from?: string, to?: string): Promise<Array<{ addr: string, pte: Record<string, any> }>> {
  const out: Array<{ addr: string, pte: Record<string, unknown> }> = []
  let cursor = from
  for (;;) {
    const q = [cursor === undefined ? '' : `from=${cursor}`, to === undefined ? '' : `to=${to}`, 'limit=4096'].filter((x) => x !== '').join('&')
    const r: { entries: Array<{ addr: string, pte: Record<string, unknown> }>, next: string | null } = await req(app, s, 'GET', `/processes/${pid}/ptes?${q}`)
    out.push(...r.entries)
    if (r.next === null) return out
    cursor = r.next
  }
}

/**
 * A fingerprint of a session's whole visible state: the summary's counts and limits, every process
 * with its VMAs and PTEs, every frame in use, every file with its page cache and i_mmap. Fields that
 * change on every request (requests, lastUsedAt, expiresAt) are left out.
 */
export async function fingerprint (app: FastifyInstance, s: TestSession): Promise<string> {
  const summary = await req(app, s, 'GET', '/')
  const parts: unknown[] = [{ id: summary.id, kernel: summary.kernel, createdAt: summary.createdAt, counts: summary.counts, limits: summary.limits }]
  const procs = await req(app, s, 'GET', '/processes')
  parts.push(procs)
  for (const p of procs.processes as Array<{ pid: number }>) {
    parts.push(await req(app, s, 'GET', `/processes/${p.pid}`))
    parts.push(await allPtes(app, s, p.pid))
  }
  parts.push(await allFrames(app, s))
  const files = await req(app, s, 'GET', '/files')
  parts.push(files)
  for (const f of files.files as Array<{ name: string }>) parts.push(await req(app, s, 'GET', `/files/${encodeURIComponent(f.name)}`))
  return JSON.stringify(parts)
}

/** The PTE of `addr` as GET /processes/:pid/translate shows it. */
export async function pteAt (app: FastifyInstance, s: TestSession, pid: number, addr: number): Promise<Record<string, any>> {
  const tr = await req(app, s, 'GET', `/processes/${pid}/translate?addr=${hex(addr)}`)
  const last = tr.levels[tr.levels.length - 1]
  return last.level === 'pte' ? last.pte : { kind: 'none' }
}

export interface RouteCase {
  method: 'GET' | 'POST' | 'DELETE'
  /** The route as registered, e.g. /processes/:pid/mmap (relative to /v1/sessions/:sid). */
  route: string
  /** A concrete path for the world below. */
  path: string
  /** A valid body, when the route takes one. */
  body?: unknown
}

export interface World { pid: number, child: number, anonPfn: number, filePfn: number, file: string }

/**
 * A small machine with something of everything: a parent and a child sharing an anonymous page, a
 * private and a shared file mapping, a zero-page mapping, a swap entry, a PROT_NONE page.
 */
export async function buildWorld (app: FastifyInstance, s: TestSession): Promise<World> {
  const pid = (await req(app, s, 'POST', '/processes', { name: 'P' })).pid as number
  await req(app, s, 'POST', '/files', { name: 'lib', pages: 8 })
  await req(app, s, 'POST', `/processes/${pid}/mmap`, { addr: '0x10000000', pages: 8 })
  await req(app, s, 'POST', `/processes/${pid}/mmap`, { addr: '0x20000000', pages: 4, file: 'lib' })
  await req(app, s, 'POST', `/processes/${pid}/mmap`, { addr: '0x30000000', pages: 4, file: 'lib', shared: true, offset: 4 })
  const anonPfn = (await req(app, s, 'POST', `/processes/${pid}/access`, { addr: '0x10000000', op: 'write' })).pfn as number
  const swapped = (await req(app, s, 'POST', `/processes/${pid}/access`, { addr: '0x10001000', op: 'write' })).pfn as number
  await req(app, s, 'POST', `/processes/${pid}/access`, { addr: '0x10002000', op: 'read' })
  await req(app, s, 'POST', `/processes/${pid}/access`, { addr: '0x10003000', op: 'write' })
  await req(app, s, 'POST', `/processes/${pid}/mprotect`, { addr: '0x10003000', pages: 1, prot: 'none' })
  await req(app, s, 'POST', `/processes/${pid}/access`, { addr: '0x20000000', op: 'read' })
  await req(app, s, 'POST', `/processes/${pid}/access`, { addr: '0x20001000', op: 'write' })
  const filePfn = (await req(app, s, 'POST', `/processes/${pid}/access`, { addr: '0x30000000', op: 'write' })).pfn as number
  const child = (await req(app, s, 'POST', `/processes/${pid}/fork`, { name: 'C' })).pid as number
  await req(app, s, 'POST', `/processes/${child}/access`, { addr: '0x30000000', op: 'read' })
  let u = await req(app, s, 'POST', `/frames/${swapped}/unmap`)
  if (u.success !== true) u = await req(app, s, 'POST', `/frames/${swapped}/unmap`)
  if (u.success !== true) throw new Error('could not swap a page out')
  return { pid, child, anonPfn, filePfn, file: 'lib' }
}

/** One valid request for every session-scoped route (relative to the session's base URL). */
export function sessionRouteCases (w: World): RouteCase[] {
  const p = w.pid
  return [
    { method: 'GET', route: '/', path: '/' },
    { method: 'DELETE', route: '/', path: '/' },
    { method: 'POST', route: '/files', path: '/files', body: { name: 'newfile', pages: 2 } },
    { method: 'GET', route: '/files', path: '/files' },
    { method: 'GET', route: '/files/:name', path: `/files/${w.file}` },
    { method: 'POST', route: '/files/:name/evict', path: `/files/${w.file}/evict` },
    { method: 'POST', route: '/files/:name/writeback', path: `/files/${w.file}/writeback` },
    { method: 'POST', route: '/processes', path: '/processes', body: { name: 'newproc' } },
    { method: 'GET', route: '/processes', path: '/processes' },
    { method: 'GET', route: '/processes/:pid', path: `/processes/${p}` },
    { method: 'POST', route: '/processes/:pid/fork', path: `/processes/${p}/fork`, body: { name: 'kid' } },
    { method: 'POST', route: '/processes/:pid/exit', path: `/processes/${w.child}/exit` },
    { method: 'POST', route: '/processes/:pid/mmap', path: `/processes/${p}/mmap`, body: { addr: '0x50000000', pages: 2 } },
    { method: 'POST', route: '/processes/:pid/munmap', path: `/processes/${p}/munmap`, body: { addr: '0x10000000', pages: 1 } },
    { method: 'POST', route: '/processes/:pid/mprotect', path: `/processes/${p}/mprotect`, body: { addr: '0x10000000', pages: 1, prot: 'r' } },
    { method: 'POST', route: '/processes/:pid/mremap', path: `/processes/${p}/mremap`, body: { addr: '0x10000000', pages: 2, newPages: 2, newAddr: '0x60000000' } },
    { method: 'POST', route: '/processes/:pid/madvise', path: `/processes/${p}/madvise`, body: { addr: '0x10000000', pages: 1, advice: 'dontneed' } },
    { method: 'POST', route: '/processes/:pid/mlock', path: `/processes/${p}/mlock`, body: { addr: '0x10000000', pages: 2 } },
    { method: 'POST', route: '/processes/:pid/munlock', path: `/processes/${p}/munlock`, body: { addr: '0x10000000', pages: 2 } },
    { method: 'POST', route: '/processes/:pid/access', path: `/processes/${p}/access`, body: { addr: '0x10004000', op: 'write' } },
    { method: 'GET', route: '/processes/:pid/translate', path: `/processes/${p}/translate?addr=0x10000000` },
    { method: 'GET', route: '/processes/:pid/ptes', path: `/processes/${p}/ptes` },
    { method: 'GET', route: '/frames', path: '/frames' },
    { method: 'GET', route: '/frames/:pfn', path: `/frames/${w.anonPfn}` },
    { method: 'GET', route: '/frames/:pfn/rmap', path: `/frames/${w.anonPfn}/rmap?trace=true` },
    { method: 'POST', route: '/frames/:pfn/referenced', path: `/frames/${w.anonPfn}/referenced` },
    { method: 'POST', route: '/frames/:pfn/unmap', path: `/frames/${w.anonPfn}/unmap` },
    { method: 'POST', route: '/frames/:pfn/mkclean', path: `/frames/${w.filePfn}/mkclean` },
    { method: 'POST', route: '/frames/:pfn/migrate', path: `/frames/${w.anonPfn}/migrate` },
    { method: 'GET', route: '/check', path: '/check' }
  ]
}

/** "method /path" of every route the server registered (from printRoutes), HEAD and OPTIONS left out. */
export function registeredRoutes (app: FastifyInstance): string[] {
  const out = new Set<string>()
  const stack: string[] = []
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(.+?)(?: \(([^)]*)\))?$/.exec(line)
    if (m === null) continue
    stack.length = m[1].length / 4
    stack.push(m[2])
    const path = stack.join('').replace(/:(\w+)/g, '{$1}').replace(/(.)\/$/, '$1')
    for (const method of (m[3] ?? '').split(',').map((x) => x.trim().toLowerCase())) {
      if (method !== '' && method !== 'head' && method !== 'options') out.add(`${method} ${path}`)
    }
  }
  return [...out]
}
