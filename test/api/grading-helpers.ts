/**
 * Helpers of the grading-route tests (POST /ops, GET /snapshot, GET /journal, POST /compare, POST
 * /v1/sessions with a snapshot). Not a test file itself (.taprc runs only *.test.ts). Everything goes
 * through fastify.inject; no engine state is read directly.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { call, type TestSession } from '../helper.js'
import { Rng } from '../sim/helpers/prng.js'
import type { Truth, TruthFrame, TruthVma } from '../../src/sim/scenario.js'
import { allFrames, allPtes, req } from './api-helpers.js'

export const KERNELS = ['2.6.11', '6.18'] as const
export type KernelName = typeof KERNELS[number]

export const ADMIN = 'grading-admin-token-0123456789'
export const ADMIN_HEADERS = { authorization: `Bearer ${ADMIN}` }

/** An op of POST /ops, as plain JSON. */
export type WireOp = Record<string, unknown> & { op: string }

export interface BatchBody {
  mode?: 'atomic' | 'continue'
  files?: Record<string, { pages: number }>
  ops: WireOp[]
  [key: string]: unknown
}

export interface Outcome { index: number, op: string, ok: boolean, result?: any, error?: { code: string, message: string, details?: Record<string, unknown> } }
export interface BatchReply {
  applied: boolean
  mode: 'atomic' | 'continue'
  failed: number
  files: Outcome[]
  results: Outcome[]
  firstFailure?: Outcome
  probes: { same: string[][], unmapped: string[], labels: Record<string, number | null> }
  processes: Record<string, number>
}

/** POST /ops; the raw reply. */
export async function postOps (app: FastifyInstance, s: TestSession, body: BatchBody): Promise<LightMyRequestResponse> {
  return await call(app, s, 'POST', '/ops', body)
}

/** POST /ops that must answer 200; throws (with the body) otherwise. */
export async function opsOk (app: FastifyInstance, s: TestSession, body: BatchBody): Promise<BatchReply> {
  const res = await postOps(app, s, body)
  if (res.statusCode !== 200) throw new Error(`POST /ops -> ${res.statusCode} ${res.body.slice(0, 500)}`)
  return res.json() as BatchReply
}

/** GET /snapshot as the exact bytes of the reply (it must be 200). */
export async function snapshotText (app: FastifyInstance, s: TestSession): Promise<string> {
  const res = await call(app, s, 'GET', '/snapshot')
  if (res.statusCode !== 200) throw new Error(`GET /snapshot -> ${res.statusCode} ${res.body.slice(0, 300)}`)
  return res.body
}

/** GET /journal as the exact bytes of the reply (it must be 200). */
export async function journalText (app: FastifyInstance, s: TestSession): Promise<string> {
  const res = await call(app, s, 'GET', '/journal')
  if (res.statusCode !== 200) throw new Error(`GET /journal -> ${res.statusCode} ${res.body.slice(0, 300)}`)
  return res.body
}

/** counts.events of GET /v1/sessions/:sid. */
export async function eventCount (app: FastifyInstance, s: TestSession): Promise<number> {
  const summary = await req(app, s, 'GET', '/')
  return summary.counts.events as number
}

/** The number of live sessions (GET /v1/sessions with the admin token). */
export async function sessionCount (app: FastifyInstance): Promise<number> {
  const res = await app.inject({ method: 'GET', url: '/v1/sessions', headers: ADMIN_HEADERS })
  if (res.statusCode !== 200) throw new Error(`GET /v1/sessions -> ${res.statusCode} ${res.body.slice(0, 300)}`)
  return (res.json() as { sessions: unknown[] }).sessions.length
}

/** POST /v1/sessions with a body; the raw reply. */
export async function postSession (app: FastifyInstance, payload: unknown): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/v1/sessions', payload: payload as Record<string, unknown> })
}

/** The TestSession of a 201 reply of POST /v1/sessions. */
export function sessionOf (res: LightMyRequestResponse): TestSession {
  if (res.statusCode !== 201) throw new Error(`POST /v1/sessions -> ${res.statusCode} ${res.body.slice(0, 500)}`)
  const b = res.json() as { id: string, token: string }
  return { id: b.id, token: b.token, base: `/v1/sessions/${b.id}`, headers: { authorization: `Bearer ${b.token}` } }
}

/** A new session restored from a snapshot (parsed JSON or its text). */
export async function restore (app: FastifyInstance, snapshot: unknown, kernel?: string): Promise<TestSession> {
  const snap = typeof snapshot === 'string' ? JSON.parse(snapshot) : snapshot
  return sessionOf(await postSession(app, kernel === undefined ? { snapshot: snap } : { kernel, snapshot: snap }))
}

/** What a session looks like from outside, for "nothing changed" checks. */
export interface Fingerprint { snapshot: string, journal: string, events: number }

export async function stateOf (app: FastifyInstance, s: TestSession): Promise<Fingerprint> {
  return { snapshot: await snapshotText(app, s), journal: await journalText(app, s), events: await eventCount(app, s) }
}

// ---------------------------------------------------------------------------------- conformance

/**
 * The session's state in the oracle's truth format, from HTTP replies only: the live processes of
 * the /ops reply (name -> pid), their VMAs (GET /processes/:pid) and PTEs (GET /processes/:pid/ptes)
 * inside the window, each frame (GET /frames/:pfn) and its rmap walk (GET /frames/:pfn/rmap); the
 * probes as the /ops reply grouped them.
 */
export async function truthOverHttp (app: FastifyInstance, s: TestSession, processes: Record<string, number>, probes: { same: string[][], unmapped: string[] }, window: [number, number]): Promise<Truth> {
  const order = Object.entries(processes).sort((a, b) => a[1] - b[1]).map(([name]) => name)
  const nameOfPid = new Map(Object.entries(processes).map(([name, pid]) => [pid, name]))
  const names = new Map<number, string>()
  const frames: TruthFrame[] = []
  const zeroMappings: Array<{ proc: string, addr: string }> = []
  const ptes: Record<string, Record<string, string>> = {}
  const swap: Record<string, Record<string, string>> = {}
  const slots = new Map<number, string>()
  const vmas: Record<string, TruthVma[]> = {}
  for (const proc of order) {
    const pid = processes[proc]
    ptes[proc] = {}
    swap[proc] = {}
    vmas[proc] = []
    const detail = await req(app, s, 'GET', `/processes/${pid}`)
    for (const vma of detail.vmaList as VmaReply[]) {
      const start = Number(BigInt(vma.start))
      if (start < window[0] || start >= window[1]) continue
      vmas[proc].push(mapsLine(vma))
      for (const e of await allPtes(app, s, pid, vma.start, vma.end)) {
        if (e.pte.kind === 'swap') {
          const slot = e.pte.swapOffset as number
          if (!slots.has(slot)) slots.set(slot, `S${slots.size}`)
          swap[proc][e.addr] = slots.get(slot) as string
          continue
        }
        if (e.pte.kind !== 'present' && e.pte.kind !== 'protnone') continue
        const pfn = e.pte.pfn as number
        let name = names.get(pfn)
        if (name === undefined) {
          name = `F${names.size}`
          names.set(pfn, name)
          const f = await req(app, s, 'GET', `/frames/${pfn}`)
          if (f.kind === 'zero') {
            frames.push({ frame: name, kind: 'zero', mapcount: 0, kpagecount: 0, mappings: zeroMappings, swapcache: false, mlocked: false })
          } else {
            const r = await req(app, s, 'GET', `/frames/${pfn}/rmap`)
            const mappings = (r.mappings as Array<{ pid: number, addr: string }>).map((m) => ({ proc: nameOfPid.get(m.pid) ?? `pid${m.pid}`, addr: m.addr }))
            frames.push({ frame: name, kind: f.kind === 'anon' ? 'anon' : 'file', mapcount: f.mapcount, kpagecount: f.mapcount, mappings, swapcache: (f.flags as string[]).includes('swapcache'), mlocked: (f.flags as string[]).includes('mlocked') })
          }
        }
        if (frames.find((x) => x.frame === name)?.kind === 'zero') zeroMappings.push({ proc, addr: e.addr })
        ptes[proc][e.addr] = name
      }
    }
  }
  for (const f of frames) if (f.kind === 'zero') f.mapcount = f.mappings.length
  return { processes: order, frames, ptes, probes: { same: probes.same, unmapped: probes.unmapped }, swap, vmas }
}

interface VmaReply { start: string, end: string, pgoff: number, flags: string[], file: string | null, fileKind: 'file' | 'shmem' | null }

/** A VMA of GET /processes/:pid as /proc/PID/maps shows it: perms rwx and s/p, offset and name of a file. */
function mapsLine (v: VmaReply): TruthVma {
  const has = (flag: string): boolean => v.flags.includes(flag)
  const perms = (has('read') ? 'r' : '-') + (has('write') ? 'w' : '-') + (has('exec') ? 'x' : '-') + (has('mayshare') ? 's' : 'p')
  const file = v.fileKind === 'file' ? v.file : null
  return { start: v.start, end: v.end, perms, offset: file === null ? null : v.pgoff, file }
}

/** Probe groups in a canonical order (each group sorted, groups sorted). */
export function probeGroups (p: { same: string[][], unmapped: string[] }): string {
  return JSON.stringify({ same: p.same.map((g) => [...g].sort()).sort(), unmapped: [...p.unmapped].sort() })
}

// ---------------------------------------------------------------------------------- random ops

const ARENA = 0x10000000
const ARENA_PAGES = 48
const PAGE = 4096
const PROTS = ['r', 'rw', 'rw', 'rw', 'rw', 'rw', 'rx', 'rwx', 'none', 'w']
const FILES: Record<string, number> = { fa: 8, fb: 3 }
const hexAddr = (n: number): string => '0x' + n.toString(16)

/**
 * A seeded generator of ops in the /ops vocabulary. It knows only what HTTP replies told it (live
 * names and pids from /ops, each process's VMAs from GET /processes/:pid, live PFNs from GET
 * /frames), so most ops are valid and some fail on purpose (unknown names, overlaps, bad ranges,
 * signals, freed frames); it never reads engine state directly.
 */
export class OpGenerator {
  private readonly rng: Rng
  private procs: Record<string, number> = {}
  private readonly pfns: number[] = []
  private vmas: Record<string, Array<[number, number]>> = {}
  private serial = 0
  private started = false

  constructor (seed: number) { this.rng = new Rng(seed) }

  /** The body of the next batch (the first one creates the files). */
  batch (n: number, mode: 'atomic' | 'continue' = 'continue'): BatchBody {
    const ops: WireOp[] = []
    for (let i = 0; i < n; i++) ops.push(this.next())
    const body: BatchBody = { mode, ops }
    if (!this.started) { body.files = Object.fromEntries(Object.entries(FILES).map(([name, pages]) => [name, { pages }])); this.started = true }
    return body
  }

  /** Learns live processes and PFNs from a reply. */
  learn (reply: BatchReply): void {
    this.procs = { ...reply.processes }
    for (const r of reply.results) {
      const pfn = r.ok ? (r.result?.pfn as number | null | undefined) : undefined
      if (typeof pfn === 'number' && pfn !== 4096 && !this.pfns.includes(pfn)) this.pfns.push(pfn)
      const copied = r.ok ? (r.result?.copiedFrom as number | undefined) : undefined
      if (typeof copied === 'number' && !this.pfns.includes(copied)) this.pfns.push(copied)
    }
    if (this.pfns.length > 64) this.pfns.splice(0, this.pfns.length - 64)
  }

  private page (): number { return ARENA + this.rng.int(0, ARENA_PAGES - 1) * PAGE }

  /** Reads each live process's VMAs (GET /processes/:pid) so that most addresses fall inside one. */
  async refresh (app: FastifyInstance, s: TestSession): Promise<void> {
    this.vmas = {}
    // Names guessed for a batch that was refused never came to be.
    this.procs = Object.fromEntries(Object.entries(this.procs).filter(([, pid]) => pid > 0))
    for (const [name, pid] of Object.entries(this.procs)) {
      const p = await req(app, s, 'GET', `/processes/${pid}`)
      this.vmas[name] = (p.vmaList as Array<{ start: string, end: string }>).map((v) => [Number(BigInt(v.start)), Number(BigInt(v.end))])
    }
    const frames = await allFrames(app, s)
    const live = frames.filter((f) => f.kind === 'anon' || f.kind === 'file' || f.kind === 'shmem').map((f) => f.pfn as number)
    if (live.length > 0) this.pfns.splice(0, this.pfns.length, ...live.slice(-64))
  }

  /** A process reference (and its name, when known): mostly by name, sometimes by pid, rarely an unknown one. */
  private target (): { ref: Record<string, unknown>, name?: string } {
    const names = Object.keys(this.procs)
    const r = this.rng
    if (names.length === 0 || r.chance(0.03)) return { ref: r.chance(0.5) ? { proc: 'ghost' } : { pid: 9999 } }
    const name = r.pick(names)
    const pid = this.procs[name]
    return { ref: pid > 0 && r.chance(0.25) ? { pid } : { proc: name }, name }
  }

  private ref (): Record<string, unknown> { return this.target().ref }

  /** A page inside one of the process's VMAs (mostly), or anywhere in the arena. */
  private pageOf (name: string | undefined): number {
    const vmas = name === undefined ? [] : this.vmas[name] ?? []
    if (vmas.length === 0 || this.rng.chance(0.08)) return this.page()
    const [start, end] = this.rng.pick(vmas)
    return start + this.rng.int(0, (end - start) / PAGE - 1) * PAGE
  }

  /** A range [addr, pages] mostly inside one VMA. */
  private rangeOf (name: string | undefined): [number, number] {
    const vmas = name === undefined ? [] : this.vmas[name] ?? []
    if (vmas.length === 0 || this.rng.chance(0.08)) return [this.page(), this.rng.int(1, 8)]
    const [start, end] = this.rng.pick(vmas)
    const pages = (end - start) / PAGE
    const first = this.rng.int(0, pages - 1)
    return [start + first * PAGE, this.rng.int(1, pages - first + (this.rng.chance(0.2) ? 2 : 0))]
  }

  next (): WireOp {
    const r = this.rng
    const live = Object.keys(this.procs).length
    if (live === 0) return this.spawn()
    const kind = r.weighted({
      spawn: live < 5 ? 2 : 0,
      fork: live < 9 ? 3 : 0,
      exit: live > 2 ? 1 : 0,
      mmap: 8,
      munmap: 3,
      mprotect: 3,
      mremap: 3,
      dontneed: 2,
      madvise: 1,
      read: 8,
      write: 10,
      exec: 1,
      referenced: 1,
      unmap: 3,
      mkclean: 1,
      migrate: 2,
      evict: 1,
      probe: 2
    })
    switch (kind) {
      case 'spawn': return this.spawn()
      case 'fork': {
        const name = `c${this.serial++}`
        const parent = this.target()
        this.procs[name] = -1
        this.vmas[name] = [...(parent.name === undefined ? [] : this.vmas[parent.name] ?? [])]
        return r.chance(0.8) ? { op: 'fork', ...parent.ref, child: name } : { op: 'fork', ...parent.ref, name }
      }
      case 'exit': {
        const ref = this.ref()
        if (typeof ref.proc === 'string') Reflect.deleteProperty(this.procs, ref.proc)
        return { op: 'exit', ...ref }
      }
      case 'mmap': {
        const { ref, name } = this.target()
        const op: WireOp = { op: 'mmap', ...ref, pages: r.int(1, 8), prot: r.pick(PROTS) }
        if (r.chance(0.4)) {
          const file = r.pick(Object.keys(FILES))
          op.kind = 'file'
          op.file = file
          op.offset = r.chance(0.92) ? r.int(0, FILES[file] - 1) : FILES[file] + r.int(0, 2)
        } else if (r.chance(0.6)) op.kind = 'anon'
        if (r.chance(0.35)) op.shared = true
        const placement = r.weighted({ any: 2, noreplace: 3, replace: 2, hint: 1 })
        if (placement !== 'any') {
          const addr = this.page()
          op.addr = hexAddr(addr)
          op.fixed = placement
          if (name !== undefined) (this.vmas[name] ??= []).push([addr, addr + (op.pages as number) * PAGE])
        }
        return op
      }
      case 'munmap':
      case 'dontneed': {
        const { ref, name } = this.target()
        const [addr, pages] = this.rangeOf(name)
        return { op: kind, ...ref, addr: hexAddr(addr + (r.chance(0.03) ? 1 : 0)), pages }
      }
      case 'madvise': {
        const { ref, name } = this.target()
        const [addr, pages] = this.rangeOf(name)
        return { op: 'madvise', ...ref, addr: hexAddr(addr), pages, advice: 'dontneed' }
      }
      case 'mprotect': {
        const { ref, name } = this.target()
        const [addr, pages] = this.rangeOf(name)
        return { op: 'mprotect', ...ref, addr: hexAddr(addr), pages, prot: r.pick(PROTS) }
      }
      case 'mremap': {
        const { ref, name } = this.target()
        const [addr, pages] = this.rangeOf(name)
        const op: WireOp = { op: 'mremap', ...ref, addr: hexAddr(addr), pages, newPages: Math.max(1, pages + r.int(-2, 4)) }
        if (r.chance(0.35)) { op.newAddr = hexAddr(this.page()); op.mayMove = true } else if (r.chance(0.4)) op.mayMove = r.chance(0.5)
        return op
      }
      case 'read':
      case 'write':
      case 'exec': {
        const { ref, name } = this.target()
        const addr = r.chance(0.05) ? 0x7000_0000 + r.int(0, 8) * PAGE : this.pageOf(name) + r.int(0, PAGE - 1)
        return { op: kind, ...ref, addr: r.chance(0.2) ? addr : hexAddr(addr) }
      }
      case 'referenced':
      case 'unmap':
      case 'mkclean':
      case 'migrate':
        return { op: kind, pfn: this.pfns.length === 0 || r.chance(0.05) ? 4097 + r.int(0, 200) : r.pick(this.pfns) }
      case 'evict':
        return { op: 'evict', file: r.chance(0.9) ? r.pick(Object.keys(FILES)) : 'nofile' }
      case 'probe': {
        const { ref, name } = this.target()
        return { op: 'probe', ...ref, addr: hexAddr(this.pageOf(name)), as: `q${this.serial++}` }
      }
    }
    return this.spawn()
  }

  private spawn (): WireOp {
    const name = `p${this.serial++}`
    this.procs[name] = -1
    return this.rng.chance(0.85) ? { op: 'spawn', proc: name } : { op: 'spawn', name }
  }
}

/** Runs `batches` random continue-mode batches of `size` ops on a session; returns every body sent and every reply. */
export async function runRandom (app: FastifyInstance, s: TestSession, gen: OpGenerator, batches: number, size: number): Promise<{ bodies: BatchBody[], replies: string[] }> {
  const bodies: BatchBody[] = []
  const replies: string[] = []
  for (let i = 0; i < batches; i++) {
    const body = gen.batch(size)
    const res = await postOps(app, s, body)
    if (res.statusCode !== 200) throw new Error(`random batch ${i}: POST /ops -> ${res.statusCode} ${res.body.slice(0, 500)}`)
    gen.learn(res.json() as BatchReply)
    await gen.refresh(app, s)
    bodies.push(body)
    replies.push(res.body)
  }
  return { bodies, replies }
}
