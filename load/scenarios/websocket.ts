import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import WebSocket from 'ws'
import { hex, writeOps, type Session } from '../client.js'
import { MiB } from '../stats.js'
import type { Ctx } from './context.js'

/**
 * The event stream under load: events/s delivered to 1 and to N subscribers while fork+exit batches
 * generate them, and the server's memory while a subscriber that never reads is connected.
 */

const NEEDLE = Buffer.from('{"seq":')

/** Events in one message (an object or an array of them) and the last seq, without a JSON parse. */
function countEvents (buf: Buffer): { n: number, lastSeq: number } {
  let n = 0
  let last = -1
  let pos = buf.indexOf(NEEDLE)
  while (pos !== -1) { n++; last = pos; pos = buf.indexOf(NEEDLE, pos + NEEDLE.length) }
  if (last < 0) return { n: 0, lastSeq: -1 }
  let seq = 0
  for (let i = last + NEEDLE.length; i < buf.length; i++) {
    const c = buf[i]
    if (c < 48 || c > 57) break
    seq = seq * 10 + (c - 48)
  }
  return { n, lastSeq: seq }
}

class Subscriber {
  ws: WebSocket
  events = 0
  messages = 0
  arrayMessages = 0
  bytes = 0
  lastSeq = -1
  firstAt = 0
  lastAt = 0
  closeCode: number | null = null
  closeReason = ''
  errors: string[] = []
  readonly hello: Promise<void>
  readonly closed: Promise<void>

  constructor (url: string, token: string) {
    this.ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false })
    let onHello: () => void = () => {}
    let onFail: (e: Error) => void = () => {}
    this.hello = new Promise((resolve, reject) => { onHello = resolve; onFail = reject })
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => { this.closeCode = code; this.closeReason = reason.toString(); onFail(new Error(`closed ${code} before hello`)); resolve() })
    })
    this.ws.on('error', (e) => { this.errors.push(String(e)); onFail(e) })
    this.ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) { this.errors.push('binary message'); return }
      if (this.lastSeq < 0) {
        const m = JSON.parse(data.toString()) as { type: string, seq: number }
        if (m.type === 'hello') { this.lastSeq = m.seq; onHello() }
        return
      }
      const now = performance.now()
      const c = countEvents(data)
      if (c.n === 0) return // pong, gap, ...
      if (this.firstAt === 0) this.firstAt = now
      this.lastAt = now
      this.events += c.n
      this.messages++
      if (data[0] === 0x5b) this.arrayMessages++
      this.bytes += data.length
      this.lastSeq = c.lastSeq
    })
  }

  reset (): void { this.events = 0; this.messages = 0; this.arrayMessages = 0; this.bytes = 0; this.firstAt = 0; this.lastAt = 0 }
}

async function connect (ctx: Ctx, s: Session, n: number): Promise<Subscriber[]> {
  const url = `ws://127.0.0.1:${ctx.server.port}${s.base}/events`
  const subs = Array.from({ length: n }, () => new Subscriber(url, s.token))
  await Promise.all(subs.map(async (x) => { await x.hello }))
  return subs
}

async function closeAll (subs: Subscriber[]): Promise<void> {
  for (const x of subs) x.ws.close(1000)
  await Promise.race([Promise.all(subs.map(async (x) => { await x.closed })), sleep(5000)])
}

export interface FanOutResult {
  subscribers: number
  durationS: number
  requests: number
  eventsGenerated: number
  eventsPerRequest: number
  eventsDeliveredTotal: number
  /** Every subscriber got every event. */
  complete: boolean
  missing: number
  messages: number
  arrayMessages: number
  bytesDelivered: number
  /** Sum over subscribers of events / (last - first) of that subscriber. */
  perSubscriberEventsPerSec: { min: number, median: number, max: number }
  /** All events delivered to all subscribers / (last event anywhere - first event anywhere). */
  aggregateEventsPerSec: number
  /** Events the server generated per second while all its subscribers kept up. */
  generatedEventsPerSec: number
  unexpectedCloses: number
}

const GEN_PAGES = 4096
const genBody = { mode: 'continue', ops: [{ op: 'fork', proc: 'P', child: 'C' }, { op: 'exit', proc: 'C' }] }

async function generatorSession (ctx: Ctx): Promise<Session> {
  const s = await ctx.api.createSession('6.18')
  const base = 0x10000000
  await ctx.api.ops(s, [{ op: 'spawn', proc: 'P' }, { op: 'mmap', proc: 'P', addr: hex(base), pages: GEN_PAGES, kind: 'anon' }, ...writeOps('P', base, GEN_PAGES)])
  return s
}

/**
 * Issues fork+exit batches for `seconds`, never more than `ahead` batches beyond what the slowest of
 * `pace` has received (so a subscriber that keeps up is never closed for being slow).
 */
async function generate (ctx: Ctx, s: Session, seconds: number, pace: Subscriber[], ahead = 2, onTick?: () => void): Promise<{ requests: number, seqStart: number, seqEnd: number }> {
  const seqStart = (await ctx.api.summary(s)).counts.events
  const targets: number[] = []
  const deadline = performance.now() + seconds * 1000
  let requests = 0
  const slowest = (): number => pace.reduce((m, x) => Math.min(m, x.closeCode === null ? x.lastSeq : Number.POSITIVE_INFINITY), Number.POSITIVE_INFINITY)
  while (performance.now() < deadline) {
    await ctx.api.request('POST', `${s.base}/ops`, { session: s, body: genBody, expect: [200] })
    requests++
    targets.push((await ctx.api.summary(s)).counts.events)
    onTick?.()
    const must = targets.length - 1 - ahead
    if (must >= 0) {
      const until = performance.now() + 10000
      while (slowest() < targets[must] && performance.now() < until) await sleep(1)
    }
  }
  const seqEnd = targets.length > 0 ? targets[targets.length - 1] : seqStart
  const until = performance.now() + 30000
  while (slowest() < seqEnd && performance.now() < until) await sleep(2)
  return { requests, seqStart, seqEnd }
}

async function fanOut (ctx: Ctx, s: Session, n: number): Promise<FanOutResult> {
  const subs = await connect(ctx, s, n)
  // warm-up: one batch, not counted
  await generate(ctx, s, 0.3, subs)
  for (const x of subs) x.reset()
  const t0 = performance.now()
  const g = await generate(ctx, s, ctx.cfg.duration, subs)
  const durationS = (performance.now() - t0) / 1000
  const eventsGenerated = g.seqEnd - g.seqStart
  const per = subs.map((x) => x.events / Math.max(1e-9, (x.lastAt - x.firstAt) / 1000)).sort((a, b) => a - b)
  const total = subs.reduce((a, x) => a + x.events, 0)
  const first = Math.min(...subs.map((x) => x.firstAt))
  const last = Math.max(...subs.map((x) => x.lastAt))
  const unexpected = subs.filter((x) => x.closeCode !== null).length
  const result: FanOutResult = {
    subscribers: n,
    durationS,
    requests: g.requests,
    eventsGenerated,
    eventsPerRequest: eventsGenerated / Math.max(1, g.requests),
    eventsDeliveredTotal: total,
    complete: total === eventsGenerated * n,
    missing: eventsGenerated * n - total,
    messages: subs.reduce((a, x) => a + x.messages, 0),
    arrayMessages: subs.reduce((a, x) => a + x.arrayMessages, 0),
    bytesDelivered: subs.reduce((a, x) => a + x.bytes, 0),
    perSubscriberEventsPerSec: { min: per[0], median: per[Math.floor(per.length / 2)], max: per[per.length - 1] },
    aggregateEventsPerSec: total / Math.max(1e-9, (last - first) / 1000),
    generatedEventsPerSec: eventsGenerated / durationS,
    unexpectedCloses: unexpected
  }
  await closeAll(subs)
  return result
}

export interface StalledResult {
  durationS: number
  requests: number
  eventsGenerated: number
  /** Event bytes the stalled client would have had queued for it without the cap. */
  eventBytesGenerated: number
  /** The same generation with only the healthy subscriber (GC sawtooth of the workload itself). */
  controlSamples: Array<{ t: number, rssBytes: number }>
  rssSamples: Array<{ t: number, rssBytes: number }>
  controlMaxBytes: number
  rssAtConnectBytes: number
  rssMaxBytes: number
  rssEndBytes: number
  /** Max RSS while stalled − max RSS of the control phase. */
  rssGrowthBytes: number
  flat: boolean
  flatRule: string
  closeCode: number | null
  closeReason: string
  closedWith4008: boolean
  healthySubscriberComplete: boolean
  backpressureClosesMetric?: number
  wsMaxBufferedBytes: number
}

/**
 * A subscriber that pauses its socket and never reads, next to one healthy subscriber. RSS is
 * sampled through a control phase (healthy subscriber only) and then the same generation with the
 * stalled client connected: a server that buffered for it would grow by the event bytes generated.
 */
async function stalled (ctx: Ctx, s: Session): Promise<StalledResult> {
  const healthy = (await connect(ctx, s, 1))[0]
  const phase = Math.max(ctx.cfg.duration, 5)
  await generate(ctx, s, Math.min(2, phase), [healthy]) // warm-up
  const sampler = (): { samples: Array<{ t: number, rssBytes: number }>, stop: () => void } => {
    const samples: Array<{ t: number, rssBytes: number }> = []
    const t0 = performance.now()
    const sample = (): void => {
      const r = ctx.server.rss()
      if (r !== undefined) samples.push({ t: (performance.now() - t0) / 1000, rssBytes: r })
    }
    sample()
    const timer = setInterval(sample, 250)
    return { samples, stop: () => { sample(); clearInterval(timer) } }
  }
  const control = sampler()
  await generate(ctx, s, phase, [healthy])
  control.stop()
  const stall = (await connect(ctx, s, 1))[0]
  const sock = (stall.ws as unknown as { _socket: { pause: () => void, resume: () => void } })._socket
  sock.pause()
  healthy.reset()
  const t0 = performance.now()
  const during = sampler()
  const g = await generate(ctx, s, phase, [healthy])
  during.stop()
  const durationS = (performance.now() - t0) / 1000
  const eventsGenerated = g.seqEnd - g.seqStart
  const avgEventBytes = healthy.bytes / Math.max(1, healthy.events)
  const backpressure = await ctx.server.metric('rmap_ws_backpressure_closes')
  // Read again: the buffered events, then the close frame the server sent when it gave up on us.
  sock.resume()
  await Promise.race([stall.closed, sleep(15000)])
  const healthyComplete = healthy.events === eventsGenerated && healthy.closeCode === null
  await closeAll([healthy, stall])
  const rss = during.samples.map((x) => x.rssBytes)
  const controlMax = Math.max(...control.samples.map((x) => x.rssBytes))
  const max = Math.max(...rss)
  const growth = max - controlMax
  const wsMax = Number(ctx.serverEnv.WS_MAX_BUFFERED_BYTES ?? 4 * MiB)
  return {
    durationS,
    requests: g.requests,
    eventsGenerated,
    eventBytesGenerated: eventsGenerated * avgEventBytes,
    controlSamples: control.samples,
    rssSamples: during.samples,
    controlMaxBytes: controlMax,
    rssAtConnectBytes: rss[0] ?? Number.NaN,
    rssMaxBytes: max,
    rssEndBytes: rss[rss.length - 1] ?? Number.NaN,
    rssGrowthBytes: growth,
    flat: growth <= 32 * MiB,
    flatRule: `max RSS while stalled ≤ max RSS of a ${phase} s control phase (same generation, no stalled client) + 32 MiB`,
    closeCode: stall.closeCode,
    closeReason: stall.closeReason,
    closedWith4008: stall.closeCode === 4008,
    healthySubscriberComplete: healthyComplete,
    backpressureClosesMetric: backpressure,
    wsMaxBufferedBytes: wsMax
  }
}

export interface WebSocketResult {
  generator: string
  one: FanOutResult
  many: FanOutResult
  stalled: StalledResult
}

export async function websocket (ctx: Ctx): Promise<WebSocketResult> {
  const s = await generatorSession(ctx)
  ctx.log(`  ws: 1 subscriber, ${ctx.cfg.duration} s`)
  const one = await fanOut(ctx, s, 1)
  ctx.log(`  ws: ${ctx.cfg.wsSubscribers} subscribers, ${ctx.cfg.duration} s`)
  const many = await fanOut(ctx, s, ctx.cfg.wsSubscribers)
  await ctx.api.deleteSession(s)
  ctx.log('  ws: stalled subscriber')
  const s2 = await generatorSession(ctx)
  const st = await stalled(ctx, s2)
  await ctx.api.deleteSession(s2)
  return {
    generator: `POST /ops [fork P→C, exit C] (mode continue), P has ${GEN_PAGES} resident pages; at most 2 batches ahead of the slowest live subscriber`,
    one,
    many,
    stalled: st
  }
}
