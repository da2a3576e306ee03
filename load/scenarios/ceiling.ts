import { Api, DEFAULT_LIMITS, hex } from '../client.js'
import { runCannon } from '../cannon.js'
import { startServer, type ServerHandle } from '../server.js'
import type { HttpScenario } from '../types.js'
import type { Ctx } from './context.js'
import { health, sharedFrame } from './http.js'

/**
 * What this stack allows: the rmap and access routes' shapes with the simulation taken out, measured
 * against /health in a calibration server (load/ceiling/server.ts) started with the same node flags
 * and environment as the server under test. A route can reach at most its twin's ratio here.
 */
export interface CeilingResult {
  health: HttpScenario
  rmap8: HttpScenario
  access: HttpScenario
  /** Each twin's req/s as a share of this server's /health (the higher of its two runs). */
  ratios: { rmap8: number, access: number }
}

export async function ceiling (ctx: Omit<Ctx, 'server' | 'api'>, nodeArgs: string[]): Promise<CeilingResult> {
  let server: ServerHandle | undefined
  try {
    server = await startServer({ root: ctx.root, env: ctx.serverEnv, nodeArgs: [...nodeArgs, '--import', 'tsx'], script: ['load/ceiling/server.ts'], log: ctx.log })
    const c: Ctx = { ...ctx, server, api: new Api(server.url) }
    const first = await health(c)
    ctx.log(`  /health ${Math.round(first.rps)} req/s`)

    const f = await sharedFrame(c, 8)
    const rmap8 = await runCannon({
      id: 'ceiling-rmap8',
      title: 'GET rmap twin: auth, zod params and query, the 8-mapping reply replayed (no walk, no writing)',
      description: `the rmap route's shape with the walk and the reply writing taken out; ${(f.bodyLength / 1024).toFixed(1)} KiB reply`,
      url: server.url,
      path: f.path.replace('/v1/sessions/', '/ceiling/sessions/'),
      headers: f.headers,
      connections: ctx.cfg.connections,
      duration: ctx.cfg.duration,
      check: (b) => b.length === f.bodyLength
    })
    ctx.log(`  rmap twin ${Math.round(rmap8.rps)} req/s`)

    const s = await c.api.createSession('6.18', DEFAULT_LIMITS)
    const rep = await c.api.ops(s, [{ op: 'spawn', proc: 'P' }, { op: 'mmap', proc: 'P', addr: hex(0x100000000), pages: 1, kind: 'anon' }])
    const pid = rep[0].processes.P
    const access = await runCannon({
      id: 'ceiling-access',
      title: 'POST access twin: auth, zod params and JSON body, the fault reply replayed (no fault)',
      description: "the access route's shape with the fault and the reply writing taken out",
      url: server.url,
      method: 'POST',
      path: `/ceiling/sessions/${s.id}/processes/${pid}/access`,
      headers: s.headers,
      body: `{"addr":"${hex(0x100000000)}","op":"write"}`,
      connections: ctx.cfg.connections,
      duration: ctx.cfg.duration,
      check: (b) => b.includes('"path":"anon_alloc"')
    })
    ctx.log(`  access twin ${Math.round(access.rps)} req/s`)
    const again = await health(c)
    const ref = Math.max(first.rps, again.rps)
    for (const h of [rmap8, access]) h.ratioToBaseline = h.rps / ref
    const best = first.rps >= again.rps ? first : again
    best.ratioToBaseline = 1
    return { health: best, rmap8, access, ratios: { rmap8: rmap8.rps / ref, access: access.rps / ref } }
  } finally {
    if (server !== undefined) await server.stop()
  }
}
