/**
 * Shared helpers of the WebSocket tests (not a test file itself: .taprc runs only *.test.ts).
 * A real server listening on 127.0.0.1 (any free port), real `ws` clients, HTTP through fetch.
 * Every wait has a timeout, so a missing message fails the test instead of hanging it.
 */
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import WebSocket, { type ClientOptions } from 'ws'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import type { Session } from '../../src/sessions/session.js'
import { eventToWire } from '../../src/sessions/event-wire.js'
import { holdToContract } from '../helper.js'
import type { SimEvent } from '../../src/sim/index.js'

export interface Teardown { teardown: (fn: () => unknown) => void }

/** Default wait for one message or one reply. */
export const WAIT_MS = 5000

/** A wire event: what one element of an event message holds. */
export interface WireEvent {
  seq: number
  type: string
  cause: { op: string, path?: string, pid?: number, requestId?: string }
  pid?: number
  addr?: string
  before?: WirePte
  after?: WirePte
  pfn?: number
  kind?: string
  vma?: WireVma
  other?: WireVma
  parent?: number
  child?: number
  anonVma?: number
}
export interface WirePte { kind: string, raw: string, pfn?: number, writable?: boolean, accessed?: boolean, dirty?: boolean, swapOffset?: number, exclusive?: boolean }
export interface WireVma { id: number, start: string, end: string, pgoff: number, flags: number }

/** A control message: hello, gap, subscribed, pong, error. */
export type Control = Record<string, any> & { type: string }

/** One message as received: an object (a control message or one event) or an array of events. */
export type Message = Control | WireEvent | WireEvent[]

/** True for an event (its type has a dot: "pte.set"); control messages have plain types. */
export const isEventObject = (m: unknown): m is WireEvent =>
  typeof m === 'object' && m !== null && !Array.isArray(m) && typeof (m as { type?: unknown }).type === 'string' && (m as { type: string }).type.includes('.')

export const isEventMessage = (m: Message): boolean => Array.isArray(m) || isEventObject(m)

export async function withTimeout<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`timed out after ${ms} ms waiting for ${what}`)) }, ms)
  })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}

export const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Polls `cond` every few ms until it holds; throws after `ms`. */
export async function until (cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(5)
  }
}

// ------------------------------------------------------------------ server

export interface Server {
  app: FastifyInstance
  /** http://127.0.0.1:port */
  http: string
  /** ws://127.0.0.1:port */
  ws: string
  /** app.close(), once (the teardown calls it too). */
  close: () => Promise<void>
}

/** buildApp + loadConfig with test settings and `env`, listening on a free port; closed when the test ends. */
export async function startServer (t: Teardown, env: Record<string, string> = {}, now?: () => number): Promise<Server> {
  const config = loadConfig({ LOG_LEVEL: 'silent', RATE_LIMIT_PER_MINUTE: '0', VALIDATE_RESPONSES: 'true', ...env })
  const app = await buildApp({ config, logger: false, now })
  // Every HTTP reply is held to the OpenAPI document, as in buildTestApp (test/helper.ts).
  const contract = holdToContract(app)
  let closing: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closing ??= app.close()
    await closing
  }
  t.teardown(async () => {
    try { await withTimeout(close(), 10_000, 'app.close() in teardown') } finally { contract.verify() }
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  return { app, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}`, close }
}

// ------------------------------------------------------------------ HTTP

export interface HttpSession { id: string, token: string, base: string }

export interface Reply { status: number, body: any, requestId: string, headers: Headers, text: string }

export async function request (srv: Server, method: string, path: string, opts: { body?: unknown, token?: string, headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers }
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`
  if (opts.body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(srv.http + path, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: AbortSignal.timeout(30_000)
  })
  const text = await res.text()
  let body: unknown
  try { body = JSON.parse(text) } catch { body = undefined }
  return { status: res.status, body, requestId: res.headers.get('x-request-id') ?? '', headers: res.headers, text }
}

/** A session route of `s` with its bearer token. */
export async function call (srv: Server, s: HttpSession, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply> {
  return await request(srv, method, s.base + path, { body, token: s.token, headers })
}

/** Like call, but throws unless the status is 2xx. */
export async function ok (srv: Server, s: HttpSession, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply> {
  const r = await call(srv, s, method, path, body, headers)
  if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path}: ${r.status} ${r.text}`)
  return r
}

export async function newSession (srv: Server, kernel: '2.6.11' | '6.18' = '6.18'): Promise<HttpSession> {
  const r = await request(srv, 'POST', '/v1/sessions', { body: { kernel } })
  if (r.status !== 201) throw new Error(`session creation failed: ${r.status} ${r.text}`)
  return { id: r.body.id, token: r.body.token, base: `/v1/sessions/${String(r.body.id)}` }
}

/** The server-side session object (to watch the engine's own event stream). */
export function serverSession (srv: Server, s: HttpSession): Session {
  const session = srv.app.sessions.get(s.id)
  if (session === undefined) throw new Error(`no live session ${s.id}`)
  return session
}

/**
 * Records what the engine emits, in emission order, as it would go on the wire (cause.path is filled
 * in after a fault's first events, so the wire form is computed when asked for).
 */
export function recordEngine (t: Teardown, srv: Server, s: HttpSession): { events: SimEvent[], wire: () => WireEvent[], seqs: () => number[] } {
  const events: SimEvent[] = []
  const sim = serverSession(srv, s).sim
  const off = sim.subscribe((e) => { events.push(e) })
  t.teardown(off)
  return {
    events,
    wire: () => events.map((e) => JSON.parse(JSON.stringify(eventToWire(e, sim.state.model.pteLayout))) as WireEvent),
    seqs: () => events.map((e) => e.seq)
  }
}

/** One sample of /metrics (name with its labels exactly as printed, e.g. 'x_total{reason="a"}'); 0 when absent. */
export async function metric (srv: Server, series: string): Promise<number> {
  const r = await request(srv, 'GET', '/metrics')
  for (const line of r.text.split('\n')) {
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1))
  }
  return 0
}

// ------------------------------------------------------------------ WebSocket clients

export interface Closed { code: number, reason: string }

/** A `ws` client that keeps every message (parsed) and lets the test wait for what it expects. */
export class Client {
  readonly ws: WebSocket
  readonly messages: Message[] = []
  /** Raw sizes of the messages, in the same order. */
  readonly sizes: number[] = []
  readonly errors: Error[] = []
  pings = 0
  closeInfo: Closed | null = null
  unexpected: { status: number, body: any } | null = null
  private cursor = 0
  private readonly listeners = new Set<() => void>()
  readonly opened: Promise<void>
  readonly closedP: Promise<Closed>

  constructor (url: string, opts: ClientOptions & { protocols?: string[] } = {}) {
    const { protocols, ...rest } = opts
    this.ws = new WebSocket(url, protocols ?? [], { perMessageDeflate: false, ...rest })
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => { resolve() })
      this.ws.once('close', (code) => { reject(new Error(`closed (${code}) before open`)) })
      this.ws.on('unexpected-response', (_req, res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => { text += c })
        res.on('end', () => {
          let body: unknown
          try { body = JSON.parse(text) } catch { body = text }
          this.unexpected = { status: res.statusCode ?? 0, body }
          reject(new Error(`unexpected response ${String(res.statusCode)}`))
          this.ws.terminate()
        })
      })
    })
    this.opened.catch(() => {})
    this.closedP = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() }
        this.notify()
        resolve(this.closeInfo)
      })
    })
    this.ws.on('error', (err) => { this.errors.push(err) })
    this.ws.on('ping', () => { this.pings++; this.notify() })
    this.ws.on('message', (data, isBinary) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)
      this.sizes.push(buf.length)
      let parsed: Message
      try { parsed = JSON.parse(buf.toString()) as Message } catch { parsed = { type: '<not json>', raw: buf.toString(), isBinary } }
      this.messages.push(parsed)
      this.notify()
    })
  }

  private notify (): void { for (const fn of [...this.listeners]) fn() }

  /**
   * Resolves when `cond` holds (checked on every message, ping and close); rejects after `ms`, or as
   * soon as the socket is closed with `cond` still false.
   */
  async waitUntil (cond: () => boolean, ms: number, what: string): Promise<void> {
    if (cond()) return
    let fn: () => void = () => {}
    const p = new Promise<void>((resolve, reject) => {
      fn = () => {
        if (cond()) resolve()
        else if (this.closeInfo !== null) reject(new Error(`socket closed (${this.closeInfo.code} ${this.closeInfo.reason}) while waiting for ${what}`))
      }
      this.listeners.add(fn)
      fn()
    })
    try {
      await withTimeout(p, ms, what)
    } finally {
      this.listeners.delete(fn)
    }
  }

  /** The next message not yet read with next(). */
  async next (ms = WAIT_MS, what = 'the next message'): Promise<Message> {
    await this.waitUntil(() => this.messages.length > this.cursor || this.closeInfo !== null, ms, what)
    if (this.messages.length <= this.cursor) throw new Error(`socket closed (${String(this.closeInfo?.code)} ${String(this.closeInfo?.reason)}) while waiting for ${what}`)
    return this.messages[this.cursor++]
  }

  /** Skips to the end: later next() calls see only new messages. */
  skip (): void { this.cursor = this.messages.length }

  /** Every event received so far, flattened in arrival order. */
  events (): WireEvent[] {
    const out: WireEvent[] = []
    for (const m of this.messages) {
      if (Array.isArray(m)) out.push(...m)
      else if (isEventObject(m)) out.push(m)
    }
    return out
  }

  /** Control messages received so far. */
  controls (): Control[] { return this.messages.filter((m): m is Control => !isEventMessage(m)) }

  lastSeq (): number {
    const ev = this.events()
    return ev.length === 0 ? -1 : ev[ev.length - 1].seq
  }

  /** Waits until the last event received has at least this seq. */
  async waitSeq (seq: number, ms = WAIT_MS): Promise<void> {
    await this.waitUntil(() => this.lastSeq() >= seq, ms, `event seq ${seq} (last received ${this.lastSeq()})`)
  }

  /** Waits until the last event received has at least this seq, or the socket is closed. */
  async waitSeqOrClose (seq: number, ms = WAIT_MS): Promise<void> {
    await this.waitUntil(() => this.lastSeq() >= seq || this.closeInfo !== null, ms, `event seq ${seq} or a close (last received ${this.lastSeq()})`)
  }

  async closed (ms = WAIT_MS): Promise<Closed> {
    return await withTimeout(this.closedP, ms, 'the socket to close')
  }

  sendJson (obj: unknown): void { this.ws.send(JSON.stringify(obj)) }

  /**
   * Sends {"type":"ping"} and waits for its pong: whatever the server sent before answering (the
   * replay, the events of finished operations) has then arrived. Returns the pong.
   */
  async settle (ms = WAIT_MS): Promise<Control> {
    const seen = this.controls().filter((m) => m.type === 'pong').length
    this.sendJson({ type: 'ping' })
    await this.waitUntil(() => this.controls().filter((m) => m.type === 'pong').length > seen, ms, 'pong')
    return this.controls().filter((m) => m.type === 'pong')[seen]
  }

  get open (): boolean { return this.ws.readyState === WebSocket.OPEN }

  terminate (): void { this.ws.terminate() }
}

export interface Connected { client: Client, hello: Control }

/** The URL of a session's event stream with `query` (already encoded, without "?"). */
export const eventsUrl = (srv: Server, sid: string, query = ''): string =>
  `${srv.ws}/v1/sessions/${sid}/events${query === '' ? '' : '?' + query}`

/**
 * Opens the event stream of `s` (bearer header unless `auth` says otherwise) and waits for hello.
 * The client is terminated when the test ends.
 */
export async function connect (t: Teardown, srv: Server, s: HttpSession, query = '', opts: ClientOptions & { auth?: 'header' | 'none', protocols?: string[] } = {}): Promise<Connected> {
  const { auth, ...rest } = opts
  const headers = auth === 'none' ? { ...rest.headers } : { authorization: `Bearer ${s.token}`, ...rest.headers }
  const client = new Client(eventsUrl(srv, s.id, query), { ...rest, headers })
  t.teardown(() => { client.terminate() })
  await withTimeout(client.opened, WAIT_MS, 'the WebSocket to open')
  const hello = await client.next(WAIT_MS, 'hello')
  if (Array.isArray(hello) || hello.type !== 'hello') throw new Error(`first message is not hello: ${JSON.stringify(hello)}`)
  return { client, hello: hello as Control }
}

/** Opens a socket that should be refused before the upgrade; returns the HTTP status and body. */
export async function refused (t: Teardown, url: string, opts: ClientOptions & { protocols?: string[] } = {}): Promise<{ status: number, body: any }> {
  const client = new Client(url, opts)
  t.teardown(() => { client.terminate() })
  try {
    await withTimeout(client.opened, WAIT_MS, 'the upgrade to be refused')
  } catch {}
  if (client.unexpected === null) throw new Error(`the upgrade was not refused with an HTTP response (open: ${String(client.open)}, errors: ${client.errors.map(String).join('; ')})`)
  return client.unexpected
}

// ------------------------------------------------------------------ workloads

export const PAGE = 4096
export const hex = (n: number): string => '0x' + n.toString(16)
export const addrOf = (h: string): number => Number.parseInt(h.slice(2), 16)

/** Ops that spawn `proc` with `pages` anonymous pages at `base`, every page written (present, writable). */
export function bigProcessOps (proc: string, pages: number, base = 0x10000000): Array<Record<string, unknown>> {
  const ops: Array<Record<string, unknown>> = [{ op: 'spawn', proc }, { op: 'mmap', proc, addr: hex(base), pages, kind: 'anon' }]
  for (let i = 0; i < pages; i++) ops.push({ op: 'write', proc, addr: hex(base + i * PAGE) })
  return ops
}
