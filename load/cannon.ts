import { performance } from 'node:perf_hooks'
import autocannon, { type Request, type Result } from 'autocannon'
import { Samples } from './stats.js'
import type { HttpScenario } from './types.js'

export interface CannonSpec {
  id: string
  title: string
  description: string
  url: string
  connections: number
  duration: number
  method?: 'GET' | 'POST' | 'DELETE'
  path: string
  headers?: Record<string, string>
  body?: string
  /** Varies each request (autocannon calls it before every request). */
  setupRequest?: Request['setupRequest']
  /** Checks a 2xx reply body; false counts as a mismatch (an error). */
  check?: (body: string) => boolean
  /** Seconds of unrecorded warm-up first (JIT, connection set-up); default min(2, duration / 2). */
  warmup?: number
}

async function once (spec: CannonSpec, duration: number): Promise<{ result: Result, latency: Samples, times: number[], startedAt: number, mismatches: number, firstMismatch?: string }> {
  const latency = new Samples()
  const times: number[] = []
  let mismatches = 0
  let firstMismatch: string | undefined
  const headers = { ...(spec.headers ?? {}) }
  if (spec.body !== undefined || spec.setupRequest !== undefined) headers['content-type'] = 'application/json'
  const req: Request = { method: spec.method ?? 'GET', path: spec.path, headers, body: spec.body }
  if (spec.setupRequest !== undefined) req.setupRequest = spec.setupRequest
  const check = spec.check
  if (check !== undefined) {
    req.onResponse = (status, body) => {
      if (status >= 200 && status < 300 && !check(body)) {
        mismatches++
        if (firstMismatch === undefined) firstMismatch = body.slice(0, 300)
      }
    }
  }
  const inst = autocannon({ url: spec.url, connections: spec.connections, duration, timeout: 30, requests: [req] })
  const startedAt = performance.now()
  inst.on('response', (_client: unknown, _status: number, _bytes: number, rt: number) => { latency.push(rt); times.push(performance.now()) })
  const result = await inst
  return { result, latency, times, startedAt, mismatches, firstMismatch }
}

/** Runs one autocannon scenario (after a short warm-up) and shapes its result. */
export async function runCannon (spec: CannonSpec): Promise<HttpScenario> {
  const warm = spec.warmup ?? Math.min(2, spec.duration / 2)
  if (warm > 0) await once(spec, warm)
  const { result: r, latency, times, startedAt, mismatches, firstMismatch } = await once(spec, spec.duration)
  // Throughput in the first and the last fifth of the run: a drop shows state that slows each request.
  const fifth = (spec.duration * 1000) / 5
  const inWindow = (from: number, to: number): number => times.filter((t) => t >= from && t < to).length / (fifth / 1000)
  const completed = r['1xx'] + r['2xx'] + r['3xx'] + r['4xx'] + r['5xx']
  const durationS = r.duration
  const statusCodes: Record<string, number> = {}
  for (const [code, v] of Object.entries(r.statusCodeStats)) statusCodes[`status ${code}`] = v.count
  const notes: string[] = []
  if (firstMismatch !== undefined) notes.push(`first unexpected body: ${firstMismatch}`)
  return {
    id: spec.id,
    title: spec.title,
    description: spec.description,
    tool: 'autocannon',
    connections: spec.connections,
    durationS,
    requests: completed,
    rps: completed / durationS,
    latency: latency.summary(),
    errors: r.errors + r.timeouts + r.non2xx + mismatches,
    errorDetail: { socketErrors: r.errors, timeouts: r.timeouts, non2xx: r.non2xx, bodyMismatches: mismatches, ...statusCodes },
    extra: {
      autocannonP50Ms: r.latency.p50,
      autocannonP99Ms: r.latency.p99,
      autocannonAvgReqPerSec: r.requests.average,
      rpsFirstFifth: inWindow(startedAt, startedAt + fifth),
      rpsLastFifth: inWindow(startedAt + 4 * fifth, startedAt + 5 * fifth)
    },
    notes
  }
}
