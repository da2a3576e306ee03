import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Samples } from '../stats.js'
import type { HttpScenario } from '../types.js'
import type { Ctx } from './context.js'

/**
 * (g) A mixed grading workload: `workers` concurrent loops (fetch, keep-alive), each
 * create session → POST /ops (a conformance scenario, as the fixture file is) → a few GET
 * translate / rmap → DELETE session.
 */

interface ScenarioFile { name: string, ops: Array<{ op: string, proc?: string, addr?: string }>, [k: string]: unknown }

function loadScenarios (root: string): ScenarioFile[] {
  const dir = join(root, 'test/fixtures/conformance/scenarios')
  return readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ScenarioFile)
}

/** Up to three (proc, addr) pairs the scenario touched, to query afterwards. */
function probesOf (s: ScenarioFile): Array<{ proc: string, addr: string }> {
  const seen = new Set<string>()
  const out: Array<{ proc: string, addr: string }> = []
  for (const o of s.ops) {
    if ((o.op === 'write' || o.op === 'read') && o.proc !== undefined && o.addr !== undefined) {
      const k = `${o.proc}@${o.addr}`
      if (!seen.has(k)) { seen.add(k); out.push({ proc: o.proc, addr: o.addr }) }
    }
  }
  // spread over the scenario: first, middle, last
  if (out.length <= 3) return out
  return [out[0], out[Math.floor(out.length / 2)], out[out.length - 1]]
}

export async function grading (ctx: Ctx): Promise<HttpScenario> {
  const scenarios = loadScenarios(ctx.root)
  const bodies = scenarios.map((s) => JSON.stringify(s))
  const probes = scenarios.map(probesOf)
  const url = ctx.server.url
  const all = new Samples()
  const byKind: Record<string, Samples> = { create: new Samples(), ops: new Samples(), translate: new Samples(), rmap: new Samples(), delete: new Samples() }
  const errors: Record<string, number> = {}
  let firstError: string | undefined
  let requests = 0
  let scenariosDone = 0

  const timed = async (kind: string, method: string, path: string, headers: Record<string, string>, body: string | undefined, expect: number): Promise<any> => {
    const t0 = performance.now()
    let status = 0
    let text = ''
    try {
      const res = await fetch(url + path, { method, headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' }, body })
      status = res.status
      text = await res.text()
    } catch (err) {
      text = String(err)
    }
    const dt = performance.now() - t0
    requests++
    all.push(dt)
    byKind[kind].push(dt)
    if (status !== expect) {
      const key = `${kind} ${status === 0 ? 'network error' : `HTTP ${status}`}`
      errors[key] = (errors[key] ?? 0) + 1
      if (firstError === undefined) firstError = `${method} ${path}: ${status} ${text.slice(0, 300)}`
      throw new Error(key)
    }
    return text === '' ? undefined : JSON.parse(text)
  }

  const warmupEnd = performance.now() + Math.min(1000, ctx.cfg.duration * 200)
  let measuring = false
  const deadline = warmupEnd + ctx.cfg.duration * 1000
  let t0 = 0
  const worker = async (w: number): Promise<void> => {
    let i = w
    while (performance.now() < deadline) {
      const k = i++ % scenarios.length
      let session: { id: string, token: string } | undefined
      try {
        session = await timed('create', 'POST', '/v1/sessions', {}, '{"kernel":"6.18"}', 201)
        const base = `/v1/sessions/${session!.id}`
        const auth = { authorization: `Bearer ${session!.token}` }
        const reply = await timed('ops', 'POST', `${base}/ops`, auth, bodies[k], 200) as { applied: boolean, failed: number, processes: Record<string, number> }
        if (!reply.applied || reply.failed > 0) throw new Error('scenario failed')
        let rmapped = 0
        for (const p of probes[k]) {
          const pid = reply.processes[p.proc]
          if (pid === undefined) continue // exited in the scenario
          const t = await timed('translate', 'GET', `${base}/processes/${pid}/translate?addr=${p.addr}`, auth, undefined, 200) as { pfn: number | null }
          if (t.pfn !== null && rmapped < 2) {
            rmapped++
            await timed('rmap', 'GET', `${base}/frames/${t.pfn}/rmap`, auth, undefined, 200)
          }
        }
        await timed('delete', 'DELETE', base, auth, undefined, 204)
        session = undefined
        if (measuring) scenariosDone++
      } catch {
        if (session !== undefined) {
          try { await fetch(`${url}/v1/sessions/${session.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${session.token}` } }) } catch { /* counted already */ }
        }
      }
    }
  }
  // Warm-up: the same loops; the counters restart when it ends.
  const workers = Array.from({ length: ctx.cfg.workers }, async (_, w) => { await worker(w) })
  const reset = setTimeout(() => {
    measuring = true
    t0 = performance.now()
    requests = 0
    all.length = 0
    for (const s of Object.values(byKind)) s.length = 0
    for (const k of Object.keys(errors)) delete errors[k]
    firstError = undefined
  }, Math.max(0, warmupEnd - performance.now()))
  await Promise.all(workers)
  clearTimeout(reset)
  const durationS = (performance.now() - t0) / 1000
  const errorCount = Object.values(errors).reduce((a, b) => a + b, 0)
  const extra: Record<string, number> = { scenariosPerSec: scenariosDone / durationS, scenarios: scenariosDone, workers: ctx.cfg.workers }
  for (const [k, s] of Object.entries(byKind)) {
    const sum = s.summary()
    extra[`${k}P50Ms`] = sum.p50
    extra[`${k}P99Ms`] = sum.p99
  }
  return {
    id: 'grading',
    title: `(g) mixed grading workload, ${ctx.cfg.workers} concurrent sessions`,
    description: `each worker: POST /v1/sessions → POST /ops (one of ${scenarios.length} conformance scenarios, atomic) → GET translate ×≤3 + GET rmap ×≤2 → DELETE`,
    tool: 'fetch workers',
    connections: ctx.cfg.workers,
    durationS,
    requests,
    rps: requests / durationS,
    latency: all.summary(),
    errors: errorCount,
    errorDetail: errors,
    extra,
    notes: firstError === undefined ? [] : [`first error: ${firstError}`]
  }
}
