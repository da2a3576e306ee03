import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ProfileSummary } from './profile.js'
import type { CeilingResult } from './scenarios/ceiling.js'
import type { EngineResult } from './scenarios/engine.js'
import { PHASE_NOTES, PHASES, type KernelResult } from './scenarios/kernel.js'
import type { MemoryResult } from './scenarios/memory.js'
import type { WebSocketResult } from './scenarios/websocket.js'
import { fmtMiB, fmtMs, fmtNum, fmtPct, MiB } from './stats.js'
import { isSkipped, type HttpScenario, type Skipped } from './types.js'

/** The report: report.json (everything) and report.md (tables, targets marked met / not met). */

export type Section<T> = T | Skipped | { error: string } | undefined

export interface Target {
  name: string
  target: string
  actual: string
  /** null: not measured in this run. */
  met: boolean | null
  /** How far from the target (actual/target or target/actual, ≥ 1 when missed), to rank misses. */
  missFactor?: number
  /** A check the load run adds (not one of the stated targets): not ranked among the misses. */
  check?: boolean
}

export interface ReportDoc {
  title: string
  date: string
  command: string
  machine: Record<string, unknown>
  settings: Record<string, unknown>
  server: Record<string, unknown>
  /** The reference for ratios: the higher of the two /health runs (start and end). */
  baselineRps?: number
  /** /health measured again after the other HTTP scenarios (machine drift). */
  baselineEnd?: HttpScenario
  http: HttpScenario[]
  httpErrors: Record<string, string>
  memory: Section<MemoryResult>
  websocket: Section<WebSocketResult>
  engine: Section<EngineResult>
  kernel: Section<KernelResult>
  /** The rmap and access routes' shapes without the simulation, in a calibration server. */
  ceiling?: Section<CeilingResult>
  profile?: ProfileSummary
  targets: Target[]
  mostMissed?: Target
  seconds: number
}

const ok = <T>(s: Section<T>): s is T => s !== undefined && !isSkipped(s) && (s as { error?: string }).error === undefined
const why = (s: Section<unknown>): string => s === undefined ? 'not run (LOAD_ONLY)' : isSkipped(s) ? s.reason : (s as { error: string }).error

export function computeTargets (doc: ReportDoc): Target[] {
  const t: Target[] = []
  const byId = new Map(doc.http.map((h) => [h.id, h]))
  const base = byId.get('health')
  const ref = doc.baselineRps
  const ceiling = ok(doc.ceiling) ? doc.ceiling : undefined
  const ratioTarget = (id: string, label: string, min: number, twin?: 'rmap8' | 'access'): void => {
    const h = byId.get(id)
    if (ref === undefined || h === undefined) { t.push({ name: `${label} ≥ ${min * 100}% of baseline req/s`, target: `≥ ${min * 100}%`, actual: 'not measured', met: null }); return }
    const r = h.rps / ref
    const bound = twin !== undefined && ceiling !== undefined ? `; ceiling on this stack ${fmtPct(ceiling.ratios[twin])} (the same route without the simulation, see "What this stack allows")` : ''
    t.push({ name: `${label} ≥ ${min * 100}% of baseline req/s`, target: `≥ ${min * 100}%`, actual: `${fmtPct(r)} (${fmtNum(h.rps)} / ${fmtNum(ref)} req/s)${bound}`, met: r >= min, missFactor: min / r })
  }
  ratioTarget('rmap8', 'rmap, frame shared by 8 processes', 0.8, 'rmap8')
  ratioTarget('rmap1000', 'rmap, frame shared by 1,000 processes (same target applied to the large case)', 0.8)
  ratioTarget('access', 'access (write fault)', 0.7, 'access')
  const conc = base?.connections
  for (const h of doc.http) {
    if (h.tool !== 'autocannon') continue
    t.push({
      name: `p99 < 10 ms at the baseline's concurrency (${String(conc ?? h.connections)} connections): ${h.title}`,
      target: '< 10 ms',
      actual: fmtMs(h.latency.p99),
      met: h.latency.p99 < 10,
      missFactor: h.latency.p99 / 10
    })
  }
  // zero errors everywhere
  const errParts: string[] = []
  let errTotal = 0
  let measured = false
  for (const h of [...doc.http, ...(doc.baselineEnd === undefined ? [] : [doc.baselineEnd])]) { measured = true; errTotal += h.errors; if (h.errors > 0) errParts.push(`${h.id}: ${h.errors}`) }
  for (const [id, e] of Object.entries(doc.httpErrors)) { errParts.push(`${id}: failed (${e.slice(0, 80)})`); errTotal++ }
  if (ok(doc.websocket)) {
    measured = true
    const w = doc.websocket
    const wsErr = w.one.missing + w.one.unexpectedCloses + w.many.missing + w.many.unexpectedCloses + (w.stalled.healthySubscriberComplete ? 0 : 1)
    if (wsErr > 0) errParts.push(`websocket: ${wsErr} (missing events / unexpected closes)`)
    errTotal += wsErr
  }
  t.push({ name: 'zero errors (all HTTP scenarios, grading workload, WebSocket delivery)', target: '0', actual: errTotal === 0 ? '0' : `${errTotal} (${errParts.join('; ')})`, met: measured ? errTotal === 0 : null, missFactor: errTotal === 0 ? 1 : Number.POSITIVE_INFINITY })
  if (ok(doc.websocket)) {
    const st = doc.websocket.stalled
    t.push({ name: 'check: server RSS flat while a stalled WebSocket subscriber is connected', target: st.flatRule, actual: `+${fmtMiB(st.rssGrowthBytes)} over the control max while ${fmtMiB(st.eventBytesGenerated)} of events were generated`, met: st.flat, check: true })
    t.push({ name: 'check: the stalled subscriber is closed with 4008', target: '4008', actual: String(st.closeCode), met: st.closedWith4008, check: true })
  }
  if (ok(doc.memory)) {
    const m = doc.memory
    t.push({ name: `${fmtNum(m.sessions)} idle sessions < 100 MB RSS (server total)`, target: '< 100 MB', actual: `${(m.withSessionsRssBytes / 1e6).toFixed(1)} MB (${fmtMiB(m.withSessionsRssBytes)})`, met: m.withSessionsRssBytes < 100e6, missFactor: m.withSessionsRssBytes / 100e6 })
  } else t.push({ name: '1,000 idle sessions < 100 MB RSS', target: '< 100 MB', actual: why(doc.memory), met: null })
  if (ok(doc.kernel)) {
    const k = doc.kernel
    t.push({ name: `engine fork ≥ kernel fork (PTEs/s, ${fmtNum(k.pages)} resident pages)`, target: '≥ kernel', actual: `engine ${fmtNum(k.engineForkPtesPerSec / 1e6, 2)} M/s vs kernel ${fmtNum(k.kernelForkPtesPerSec / 1e6, 2)} M/s, medians (${fmtNum(k.ratio.fork, 2)}× the kernel's time; best runs ${fmtNum(k.ratioMin.fork, 2)}×)`, met: k.engineForkPtesPerSec >= k.kernelForkPtesPerSec, missFactor: k.kernelForkPtesPerSec / k.engineForkPtesPerSec })
  } else t.push({ name: 'engine fork ≥ kernel fork', target: '≥ kernel', actual: why(doc.kernel), met: null })
  return t
}

function httpTable (doc: ReportDoc): string[] {
  const out = ['| scenario | requests/s | p50 | p99 | errors | ratio to baseline | also |', '|---|---:|---:|---:|---:|---:|---|']
  for (const h of doc.http) {
    const also: string[] = []
    const e = h.extra
    if (e.mappingsPerSec !== undefined) also.push(`${fmtNum(e.mappingsPerSec)} mappings/s`)
    if (e.ptesCopiedPerSec !== undefined) also.push(`${fmtNum(e.ptesCopiedPerSec / 1e6, 2)} M PTEs copied/s`)
    if (h.id === 'ops200') also.push(`${fmtNum(e.scenariosPerSec, 1)} scenarios/s (${fmtNum(e.opsPerSec)} ops/s)`)
    if (h.id === 'grading') also.push(`${fmtNum(e.scenariosPerSec, 1)} scenarios/s; p99 create ${fmtMs(e.createP99Ms)}, ops ${fmtMs(e.opsP99Ms)}, translate ${fmtMs(e.translateP99Ms)}, rmap ${fmtMs(e.rmapP99Ms)}, delete ${fmtMs(e.deleteP99Ms)}`)
    if (h.id === 'access') also.push(`${fmtNum(e.pagesTouched)} pages faulted in (of ${fmtNum(e.pagesMapped)})`)
    if (e.rpsFirstFifth !== undefined && e.rpsLastFifth !== undefined && e.rpsLastFifth < 0.8 * e.rpsFirstFifth) also.push(`slows down during the run: ${fmtNum(e.rpsFirstFifth)} → ${fmtNum(e.rpsLastFifth)} req/s (first → last fifth)`)
    const ratio = h.ratioToBaseline === undefined ? 'n/a' : h.ratioToBaseline.toFixed(2) + (h.id === 'health' ? ' (baseline)' : '')
    out.push(`| ${h.title} | ${fmtNum(h.rps)} | ${fmtMs(h.latency.p50)} | ${fmtMs(h.latency.p99)} | ${fmtNum(h.errors)} | ${ratio} | ${also.join('; ')} |`)
  }
  for (const [id, e] of Object.entries(doc.httpErrors)) out.push(`| ${id} | failed | | | | | ${e.replace(/\|/g, '/').slice(0, 200)} |`)
  return out
}

export function renderMarkdown (doc: ReportDoc): string {
  const L: string[] = []
  const m = doc.machine
  L.push(`# ${doc.title}`, '')
  L.push(`${doc.date} · \`${doc.command}\` · ${String(m.cpus)} × ${String(m.cpuModel)} · node ${String(m.node)} · ${String(m.os)} · load average ${String(m.loadAverageBefore)} before, ${String(m.loadAverageAfter)} after · ${fmtNum(doc.seconds)} s in all`, '')
  L.push(`Server: \`${['node', ...((doc.server.nodeArgs as string[] | undefined) ?? []), 'dist/src/server.js'].join(' ')}\` (\`npm start\`'s flags${doc.settings.cpuProf === true ? ', plus --cpu-prof' : ''}) on 127.0.0.1:${String(doc.server.port)} (port from ${String(doc.server.portSource)}), ${String(doc.server.envLine)}. ${String(doc.server.build)}.`, '')
  L.push(`autocannon: ${String(doc.settings.connections)} connections, ${String(doc.settings.duration)} s per scenario after an unrecorded warm-up of min(2 s, duration / 2), latencies per response (hrtime, client side). Load generator and server share the machine's ${String(m.cpus)} cores.`, '')
  if (Number(m.loadAverageBefore) > Number(m.cpus)) L.push(`> **Noisy machine:** the 1-minute load average (${String(m.loadAverageBefore)}) was above the core count when the run started; other work competed for the CPUs and every figure is lower and noisier than on an idle machine.`, '')

  L.push('## Targets', '', '| target | actual | verdict |', '|---|---|---|')
  for (const t of doc.targets) L.push(`| ${t.name} | ${t.actual} | ${t.met === null ? 'not measured' : t.met ? 'met' : '**not met**'} |`)
  L.push('', `The server runs every request on one event loop: with ${String(doc.settings.connections)} connections a request waits behind up to ${Number(doc.settings.connections) - 1} others, so any request costing more than about ${(10 / Number(doc.settings.connections)).toFixed(1)} ms of server CPU cannot have p99 < 10 ms at this concurrency, whatever its own speed.`)
  if (doc.mostMissed !== undefined) L.push('', `Missed by the most: **${doc.mostMissed.name}** — ${doc.mostMissed.actual} against ${doc.mostMissed.target}${doc.mostMissed.missFactor !== undefined && Number.isFinite(doc.mostMissed.missFactor) ? ` (${doc.mostMissed.missFactor.toFixed(1)}× off)` : ''}.`)
  L.push('')

  L.push('## HTTP throughput', '', ...httpTable(doc), '')
  const b0 = doc.http.find((h) => h.id === 'health')
  if (doc.baselineEnd !== undefined && b0 !== undefined) {
    L.push(`Baseline drift: /health gave ${fmtNum(b0.rps)} req/s at the start and ${fmtNum(doc.baselineEnd.rps)} req/s (p99 ${fmtMs(doc.baselineEnd.latency.p99)}) when run again after the other scenarios; ratios use the higher, ${fmtNum(doc.baselineRps)} req/s, so machine noise cannot flatter a ratio.`, '')
  }
  for (const h of doc.http) {
    const notes = [h.description, ...h.notes]
    const errs = Object.entries(h.errorDetail).filter(([, v]) => v > 0 && !String(v).startsWith('status 2')).map(([k, v]) => `${k}=${v}`).join(', ')
    L.push(`- **${h.title}** (${h.tool}, ${h.connections} conc., ${h.durationS.toFixed(1)} s, ${fmtNum(h.requests)} requests): ${notes.join('; ')}. ${h.extra.rpsFirstFifth !== undefined ? `req/s in the first / last fifth ${fmtNum(h.extra.rpsFirstFifth)} / ${fmtNum(h.extra.rpsLastFifth)}. ` : ''}Latency mean ${fmtMs(h.latency.mean)}, p90 ${fmtMs(h.latency.p90)}, p99.9 ${fmtMs(h.latency.p999)}, max ${fmtMs(h.latency.max)}. ${errs !== '' ? `Replies: ${errs}.` : ''}`)
  }
  L.push('')

  L.push('## What this stack allows', '')
  if (ok(doc.ceiling)) {
    const c = doc.ceiling
    L.push('A calibration server (`load/ceiling/server.ts`: the compiled app, same node flags and environment, plus two twin routes) runs the rmap and access routes\' exact shapes — the session auth hook, the zod params, query and body, the same reply bytes — with the simulation taken out: each twin replays the reply its real route gave the first time. No route of the real server can beat its twin\'s ratio on this stack and machine.', '')
    L.push('| calibration route | requests/s | p50 | p99 | errors | ratio to its /health |', '|---|---:|---:|---:|---:|---:|')
    for (const h of [c.health, c.rmap8, c.access]) L.push(`| ${h.title} | ${fmtNum(h.rps)} | ${fmtMs(h.latency.p50)} | ${fmtMs(h.latency.p99)} | ${fmtNum(h.errors)} | ${(h.ratioToBaseline ?? 0).toFixed(2)} |`)
  } else L.push(`Skipped: ${why(doc.ceiling)}`)
  L.push('')

  L.push('## Memory', '')
  if (ok(doc.memory)) {
    const x = doc.memory
    L.push('| measurement | value |', '|---|---:|')
    L.push(`| server RSS, idle (no session) | ${fmtMiB(x.idleRssBytes)} |`)
    L.push(`| server RSS with ${fmtNum(x.sessions)} live idle sessions | ${fmtMiB(x.withSessionsRssBytes)} (${(x.withSessionsRssBytes / 1e6).toFixed(1)} MB) |`)
    L.push(`| RSS per idle session | ${fmtNum(x.perSessionRssBytes / 1024, 1)} KiB |`)
    L.push(`| JS heap used, idle → with sessions | ${fmtMiB(x.idleHeapUsedBytes)} → ${fmtMiB(x.withSessionsHeapUsedBytes)} |`)
    L.push(`| heap per idle session | ${x.perSessionHeapBytes === undefined ? 'n/a' : `${fmtNum(x.perSessionHeapBytes / 1024, 1)} KiB`} |`)
    const d = x.detail
    L.push(`| RSS split, idle: anonymous + file-backed (node binary, libraries) | ${fmtMiB(d.idle.rssAnon)} + ${fmtMiB(d.idle.rssFile)} |`)
    L.push(`| RSS split, with sessions: anonymous + file-backed | ${fmtMiB(d.withSessions.rssAnon)} + ${fmtMiB(d.withSessions.rssFile)} |`)
    L.push(`| V8 heap total (new space), idle → with sessions | ${fmtMiB(d.idle.heapTotal)} (${fmtMiB(d.idle.newSpaceTotal)}) → ${fmtMiB(d.withSessions.heapTotal)} (${fmtMiB(d.withSessions.newSpaceTotal)}) |`)
    L.push(`| creating them (10 concurrent) | ${x.createSeconds.toFixed(2)} s |`)
    L.push(`| RSS after deleting them | ${fmtMiB(x.afterDeleteRssBytes)} |`)
    L.push('', `RSS from ${x.source}; each value the median of 5 samples 200 ms apart. Sessions created as a client does (\`{ "kernel": "6.18" }\`), EVENT_HISTORY=${x.eventHistory}. ${x.notes.join(' ')}`)
  } else L.push(`Skipped: ${why(doc.memory)}`)
  L.push('')

  L.push('## WebSocket events', '')
  if (ok(doc.websocket)) {
    const w = doc.websocket
    L.push(`Generator: ${w.generator}. Events are counted in every message, arrays included (${'{"seq":'} occurrences), first to last event per subscriber.`, '')
    L.push('| subscribers | events generated | events/s per subscriber (median; min–max) | events/s delivered, all subscribers | generated events/s | messages (arrays) | MiB delivered | complete |', '|---:|---:|---:|---:|---:|---:|---:|---|')
    for (const f of [w.one, w.many]) {
      L.push(`| ${f.subscribers} | ${fmtNum(f.eventsGenerated)} (${fmtNum(f.eventsPerRequest)}/batch) | ${fmtNum(f.perSubscriberEventsPerSec.median)} (${fmtNum(f.perSubscriberEventsPerSec.min)}–${fmtNum(f.perSubscriberEventsPerSec.max)}) | ${fmtNum(f.aggregateEventsPerSec)} | ${fmtNum(f.generatedEventsPerSec)} | ${fmtNum(f.messages)} (${fmtNum(f.arrayMessages)}) | ${fmtNum(f.bytesDelivered / MiB, 1)} | ${f.complete ? 'yes' : `no: ${fmtNum(f.missing)} missing, ${f.unexpectedCloses} closed`} |`)
    }
    const s = w.stalled
    L.push('', `**Stalled subscriber** (pauses its socket, never reads; one healthy subscriber alongside; WS_MAX_BUFFERED_BYTES = ${fmtMiB(s.wsMaxBufferedBytes)}): ${fmtNum(s.requests)} batches, ${fmtNum(s.eventsGenerated)} events (${fmtMiB(s.eventBytesGenerated)} of JSON the stalled client would have needed queued) in ${s.durationS.toFixed(1)} s.`, '')
    L.push(`- RSS: control phase max ${fmtMiB(s.controlMaxBytes)}; with the stalled client: ${fmtMiB(s.rssAtConnectBytes)} when it connected, max ${fmtMiB(s.rssMaxBytes)}, ${fmtMiB(s.rssEndBytes)} at the end; max − control max = ${fmtMiB(s.rssGrowthBytes)} → **${s.flat ? 'flat' : 'not flat'}** (${s.flatRule}).`)
    L.push(`- The stalled client was closed with code ${String(s.closeCode)}${s.closeReason !== '' ? ` ("${s.closeReason}")` : ''} → **${s.closedWith4008 ? 'closed with 4008 as specified' : 'NOT closed with 4008'}**; rmap_ws_backpressure_closes = ${String(s.backpressureClosesMetric ?? 'n/a')}.`)
    L.push(`- The healthy subscriber got every event: ${s.healthySubscriberComplete ? 'yes' : '**no**'}.`)
    L.push(`- RSS samples, control phase (s: MiB): ${s.controlSamples.map((x) => `${x.t.toFixed(1)}: ${(x.rssBytes / MiB).toFixed(0)}`).join(', ')}`)
    L.push(`- RSS samples, stalled client connected (s: MiB): ${s.rssSamples.map((x) => `${x.t.toFixed(1)}: ${(x.rssBytes / MiB).toFixed(0)}`).join(', ')}`)
  } else L.push(`Skipped: ${why(doc.websocket)}`)
  L.push('')

  L.push('## Engine benchmark', '')
  if (ok(doc.engine)) {
    const e = doc.engine
    L.push(`\`${e.command}\` — exit ${String(e.exitCode)}, ${e.seconds.toFixed(0)} s. JSON in load/results/engine-bench.json and under \`engine\` in report.json.`, '')
    const pass = e.json?.pass as Record<string, Record<string, boolean | null>> | undefined
    if (pass !== undefined) {
      const rows = Object.entries(pass).flatMap(([k, v]) => Object.entries(v).map(([name, r]) => `| ${k} | ${name} | ${r === null ? 'not measured' : r ? 'met' : '**not met**'} |`))
      if (rows.length > 0) L.push('| kernel model | engine-bench target | verdict |', '|---|---|---|', ...rows, '')
    }
    L.push('```', e.table, '```')
  } else L.push(`Skipped: ${why(doc.engine)}`)
  L.push('')

  L.push('## Engine vs. the real kernel', '')
  if (ok(doc.kernel)) {
    const k = doc.kernel
    L.push(`${fmtNum(k.pages)} anonymous 4 KiB pages (MADV_NOHUGEPAGE), ${k.reps} runs, kernel and engine alternately (each C process does a warm-up run first); kernel: ${k.uname} (THP ${k.thp}), C compiled with \`cc -O2\` (${k.compiler}); engine: \`new Simulator({ version: '6.18' })\` in this process, no event subscriber.`, '')
    L.push('| phase | kernel (median) | engine (median) | engine / kernel (median) | kernel (best) | engine (best) | engine / kernel (best) |', '|---|---:|---:|---:|---:|---:|---:|')
    for (const p of PHASES) L.push(`| ${p}: ${PHASE_NOTES[p]} | ${fmtMs(k.kernelMs[p])} | ${fmtMs(k.engineMs[p])} | ${k.ratio[p].toFixed(2)}× | ${fmtMs(k.kernelMin[p])} | ${fmtMs(k.engineMin[p])} | ${k.ratioMin[p].toFixed(2)}× |`)
    L.push('', `Fork throughput: kernel ${fmtNum(k.kernelForkPtesPerSec / 1e6, 2)} M PTEs/s, engine ${fmtNum(k.engineForkPtesPerSec / 1e6, 2)} M PTEs/s (medians; best runs ${fmtNum(k.kernelForkPtesPerSecBest / 1e6, 2)} vs ${fmtNum(k.engineForkPtesPerSecBest / 1e6, 2)} M/s). The target verdict uses the medians. The engine neither zeroes nor copies 4 KiB of data per page, which is most of the kernel's fault and COW time.`)
  } else L.push(`Skipped: ${why(doc.kernel)}`)
  L.push('')

  if (doc.profile !== undefined) {
    const p = doc.profile
    L.push('## CPU profile of the server', '', `\`${p.file}\`: ${fmtNum(p.durationMs)} ms sampled, ${p.idlePct.toFixed(1)}% idle, ${p.gcPct.toFixed(1)}% GC.`, '')
    L.push('Hottest functions by self time:', '', '| function | where | self | self % | total % |', '|---|---|---:|---:|---:|')
    for (const f of p.topSelf) L.push(`| ${f.name} | ${f.where} | ${fmtNum(f.selfMs)} ms | ${f.selfPct.toFixed(1)}% | ${f.totalPct.toFixed(1)}% |`)
    L.push('', 'Project code by inclusive time:', '', '| function | where | total % | self % |', '|---|---|---:|---:|')
    for (const f of p.topProjectTotal) L.push(`| ${f.name} | ${f.where} | ${f.totalPct.toFixed(1)}% | ${f.selfPct.toFixed(1)}% |`)
    L.push('')
  }
  const warnings = (doc.server.warnings as string[] | undefined) ?? []
  if (warnings.length > 0) L.push('## Server warnings', '', '```', ...warnings.slice(0, 20), '```', '')
  return L.join('\n')
}

export function writeReport (dir: string, doc: ReportDoc): { json: string, md: string } {
  mkdirSync(dir, { recursive: true })
  const json = join(dir, 'report.json')
  const md = join(dir, 'report.md')
  writeFileSync(json, JSON.stringify(doc, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2) + '\n')
  writeFileSync(md, renderMarkdown(doc) + '\n')
  return { json, md }
}
