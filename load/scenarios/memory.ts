import { setTimeout as sleep } from 'node:timers/promises'
import type { Session } from '../client.js'
import { readRssParts } from '../server.js'
import { median } from '../stats.js'
import type { Ctx } from './context.js'

/** Server memory idle, then with N live idle sessions (each a fresh 6.18 simulator, never used). */

export interface MemoryResult {
  source: string
  sessions: number
  idleRssBytes: number
  idleHeapUsedBytes?: number
  withSessionsRssBytes: number
  withSessionsHeapUsedBytes?: number
  perSessionRssBytes: number
  perSessionHeapBytes?: number
  createSeconds: number
  afterDeleteRssBytes: number
  /** VmRSS split (anonymous / file-backed) and V8 figures, idle and with the sessions. */
  detail: { idle: MemDetail, withSessions: MemDetail }
  eventHistory: string
  notes: string[]
}

export interface MemDetail { rssAnon?: number, rssFile?: number, heapTotal?: number, heapUsed?: number, external?: number, newSpaceTotal?: number }

async function detail (ctx: Ctx): Promise<MemDetail> {
  const parts = readRssParts(ctx.server.pid)
  const text = await ctx.server.metricsText()
  const m = (re: RegExp): number | undefined => { const x = re.exec(text); return x === null ? undefined : Number(x[1]) }
  return {
    rssAnon: parts?.anon,
    rssFile: parts?.file,
    heapTotal: m(/^rmap_nodejs_heap_size_total_bytes\s+(\S+)/m),
    heapUsed: m(/^rmap_nodejs_heap_size_used_bytes\s+(\S+)/m),
    external: m(/^rmap_nodejs_external_memory_bytes\s+(\S+)/m),
    newSpaceTotal: m(/^rmap_nodejs_heap_space_size_total_bytes\{space="new"\}\s+(\S+)/m)
  }
}

async function sampleRss (ctx: Ctx, n = 5, gapMs = 200): Promise<{ bytes: number, source: string }> {
  const xs: number[] = []
  let source = ''
  for (let i = 0; i < n; i++) {
    const r = await ctx.server.rssAny()
    xs.push(r.bytes)
    source = r.source
    await sleep(gapMs)
  }
  return { bytes: median(xs), source }
}

export async function memory (ctx: Ctx): Promise<MemoryResult> {
  const n = ctx.cfg.idleSessions
  await sleep(1000) // let start-up settle
  const idle = await sampleRss(ctx)
  const idleDetail = await detail(ctx)
  const idleHeap = idleDetail.heapUsed
  const sessions: Session[] = []
  const t0 = performance.now()
  let next = 0
  await Promise.all(Array.from({ length: 10 }, async () => {
    while (next < n) {
      next++
      sessions.push(await ctx.api.createSession('6.18', null)) // as a client sends it: { kernel }
    }
  }))
  const createSeconds = (performance.now() - t0) / 1000
  await sleep(1500)
  const ready = (await ctx.api.request('GET', '/ready', { expect: [200, 503] })).json as { sessions: number }
  const notes: string[] = []
  if (ready.sessions !== n) notes.push(`/ready reports ${ready.sessions} sessions, expected ${n}`)
  const withSessions = await sampleRss(ctx)
  const withDetail = await detail(ctx)
  const heap = withDetail.heapUsed
  // Clean up so the later scenarios start from an empty store.
  next = 0
  await Promise.all(Array.from({ length: 10 }, async () => {
    while (next < sessions.length) await ctx.api.deleteSession(sessions[next++])
  }))
  await sleep(500)
  const after = await sampleRss(ctx, 3)
  return {
    source: idle.source,
    sessions: n,
    idleRssBytes: idle.bytes,
    idleHeapUsedBytes: idleHeap,
    withSessionsRssBytes: withSessions.bytes,
    withSessionsHeapUsedBytes: heap,
    perSessionRssBytes: (withSessions.bytes - idle.bytes) / n,
    perSessionHeapBytes: heap !== undefined && idleHeap !== undefined ? (heap - idleHeap) / n : undefined,
    createSeconds,
    afterDeleteRssBytes: after.bytes,
    detail: { idle: idleDetail, withSessions: withDetail },
    eventHistory: ctx.serverEnv.EVENT_HISTORY ?? '4096 (default)',
    notes
  }
}
