/**
 * The calibration server of the load run's "ceiling" section: the real app, compiled as deployed
 * (dist/), plus two routes shaped exactly like GET /frames/:pfn/rmap and POST /processes/:pid/access
 * (the same session auth hook, the same zod schemas, the same reply bytes) that skip the simulation:
 * each answers with the reply its real twin computed the first time. Their throughput, against this
 * process's own /health, is the most the real routes could reach on this stack and machine, so the
 * report can show how much of a throughput target's gap is the framework and how much is our work.
 * Never part of the product: started only by load/scenarios/ceiling.ts, on loopback.
 */
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

type AppModule = typeof import('../../src/app.js')
type ConfigModule = typeof import('../../src/config.js')
type AuthModule = typeof import('../../src/plugins/session-auth.js')
type CommonSchemas = typeof import('../../schemas/common.js')
type FrameSchemas = typeof import('../../schemas/frames.js')
type MemorySchemas = typeof import('../../schemas/memory.js')

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const dist = async <T>(path: string): Promise<T> => await import(pathToFileURL(join(root, 'dist', path)).href) as T

const { buildApp } = await dist<AppModule>('src/app.js')
const { loadConfig } = await dist<ConfigModule>('src/config.js')
const { authenticate, tagSim } = await dist<AuthModule>('src/plugins/session-auth.js')
const { PfnParams, PidParams, errors } = await dist<CommonSchemas>('schemas/common.js')
const { Rmap, RmapQuery, rmapJson } = await dist<FrameSchemas>('schemas/frames.js')
const { Access, AccessBody, accessOut } = await dist<MemorySchemas>('schemas/memory.js')

const config = loadConfig()
const app = await buildApp({ config })
/** The first reply of each (session, route, object), replayed for every later request. */
const replies = new Map<string, string>()
const replay = (key: string, compute: () => string): string => {
  let text = replies.get(key)
  if (text === undefined) { text = compute(); replies.set(key, text) }
  return text
}
const JSON_TYPE = 'application/json; charset=utf-8'

await app.register(async (scoped) => {
  scoped.addHook('onRequest', authenticate)
  scoped.get('/frames/:pfn/rmap', {
    schema: { params: PfnParams, querystring: RmapQuery, response: { 200: Rmap, ...errors(400, 401, 404, 429, 503) } }
  }, async (request, reply) => {
    const { sid, pfn } = request.params as { sid: string, pfn: number }
    const { trace } = request.query as { trace: boolean }
    return reply.type(JSON_TYPE).send(replay(`rmap ${sid} ${pfn} ${String(trace)}`, () => rmapJson(request.simSession.sim.rmap(pfn, trace))))
  })
  scoped.post('/processes/:pid/access', {
    schema: { params: PidParams, body: AccessBody, response: { 200: Access, ...errors(400, 401, 404, 413, 415, 422, 429, 503) } }
  }, async (request, reply) => {
    const { sid, pid } = request.params as { sid: string, pid: number }
    const { addr, op } = request.body as { addr: number, op: 'read' | 'write' | 'exec' }
    return reply.type(JSON_TYPE).send(replay(`access ${sid} ${pid}`, () => {
      const r = tagSim(request)[op]({ pid, addr })
      if (!r.ok) throw new Error(`the calibration access faulted: ${r.reason ?? ''}`)
      return JSON.stringify(accessOut(r))
    }))
  })
}, { prefix: '/ceiling/sessions/:sid' })

process.once('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
await app.listen({ host: config.HOST, port: config.PORT })
