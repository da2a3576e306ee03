/** A thin fetch client for setting up sessions and states before a measurement (keep-alive). */

export interface Session {
  id: string
  token: string
  base: string
  headers: Record<string, string>
}

export interface BatchReply {
  applied: boolean
  failed: number
  results: Array<{ index: number, op: string, ok: boolean, result?: any, error?: { code: string, message: string } }>
  processes: Record<string, number>
}

export class HttpError extends Error {
  constructor (readonly status: number, readonly body: string, what: string) {
    super(`${what}: HTTP ${status} ${body.slice(0, 400)}`)
  }
}

/** Most ops the server takes in one batch by default (MAX_BATCH_OPS). */
export const BATCH_MAX = 1000

/** The per-session limits of a server started with the default configuration. */
export const DEFAULT_LIMITS = { maxFrames: 262144, maxProcesses: 256 }

export class Api {
  constructor (readonly url: string) {}

  async request (method: string, path: string, opts: { session?: Session, body?: unknown, expect?: number[] } = {}): Promise<{ status: number, json: any, text: string }> {
    const headers: Record<string, string> = { ...(opts.session?.headers ?? {}) }
    let body: string | undefined
    if (opts.body !== undefined) { headers['content-type'] = 'application/json'; body = JSON.stringify(opts.body) }
    const res = await fetch(this.url + path, { method, headers, body })
    const text = await res.text()
    const expect = opts.expect ?? [200, 201, 204]
    if (!expect.includes(res.status)) throw new HttpError(res.status, text, `${method} ${path}`)
    let json: any
    try { json = text === '' ? undefined : JSON.parse(text) } catch { json = undefined }
    return { status: res.status, json, text }
  }

  /**
   * A session. Unless told otherwise it asks for the frame limit a default server gives
   * (SESSION_MAX_FRAMES=262144): the load server's cap is raised for the fault scenario only, and a
   * session's frame limit changes its behaviour (PFNs are recycled only once all are used).
   */
  async createSession (kernel: '6.18' | '2.6.11' = '6.18', limits: Record<string, number> | null = DEFAULT_LIMITS): Promise<Session> {
    const r = await this.request('POST', '/v1/sessions', { body: limits === null ? { kernel } : { kernel, limits }, expect: [201] })
    const { id, token } = r.json as { id: string, token: string }
    return { id, token, base: `/v1/sessions/${id}`, headers: { authorization: `Bearer ${token}` } }
  }

  async deleteSession (s: Session): Promise<void> {
    await this.request('DELETE', s.base, { session: s, expect: [204, 404] })
  }

  /** POST /ops in chunks of at most BATCH_MAX ops; every op must succeed. Returns the replies. */
  async ops (s: Session, ops: unknown[], mode: 'atomic' | 'continue' = 'continue'): Promise<BatchReply[]> {
    const out: BatchReply[] = []
    for (let i = 0; i < ops.length; i += BATCH_MAX) {
      const r = await this.request('POST', `${s.base}/ops`, { session: s, body: { mode, ops: ops.slice(i, i + BATCH_MAX) }, expect: [200] })
      const reply = r.json as BatchReply
      if (!reply.applied || reply.failed > 0) {
        const f = reply.results.find((x) => !x.ok)
        throw new Error(`setup batch failed at op ${String(f?.index)} (${String(f?.op)}): ${f?.error?.message ?? '?'}`)
      }
      out.push(reply)
    }
    return out
  }

  async summary (s: Session): Promise<{ counts: { processes: number, framesInUse: number, framesByKind: Record<string, number>, events: number } }> {
    return (await this.request('GET', s.base, { session: s, expect: [200] })).json
  }
}

export const hex = (n: number): string => '0x' + n.toString(16)
export const PAGE = 4096

/** ops writing every page of [addr, addr + pages). */
export function writeOps (proc: string, addr: number, pages: number): unknown[] {
  const ops: unknown[] = []
  for (let i = 0; i < pages; i++) ops.push({ op: 'write', proc, addr: hex(addr + i * PAGE) })
  return ops
}
