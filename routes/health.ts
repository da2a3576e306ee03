import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'

const Ready = z.object({
  ready: z.boolean(),
  reason: z.string().optional(),
  sessions: z.number().int(),
  maxSessions: z.number().int(),
  store: z.enum(['none', 'ok', 'unreachable']).meta({ description: 'The durable store (REDIS_URL): none when sessions live in memory only' })
})

/** Liveness, readiness and Prometheus metrics. */
const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/health', {
    schema: { operationId: 'health', tags: ['operations'], summary: 'Liveness: the process answers', security: [], response: { 200: z.object({ status: z.literal('ok') }) } }
  }, async () => ({ status: 'ok' as const }))

  app.get('/ready', {
    schema: { operationId: 'ready', tags: ['operations'], summary: 'Readiness: false while shutting down, overloaded, at the session cap, or without its durable store', security: [], response: { 200: Ready, 503: Ready } }
  }, async (_request, reply) => {
    const sessions = app.sessions.size
    const maxSessions = app.sessions.maxSessions
    const store = app.durableStore === undefined ? 'none' : await app.durableStore.ping() ? 'ok' : 'unreachable'
    let reason: string | undefined
    if (app.shuttingDown) reason = 'shutting down'
    else if (store === 'unreachable') reason = 'the durable store (Redis) does not answer'
    else if (app.isUnderPressure()) reason = 'under pressure (event loop or heap)'
    else if (sessions >= maxSessions) reason = 'session cap reached'
    return reply.code(reason === undefined ? 200 : 503).send({ ready: reason === undefined, reason, sessions, maxSessions, store })
  })

  app.get('/metrics', {
    schema: {
      operationId: 'metrics',
      tags: ['operations'],
      summary: 'Prometheus metrics',
      security: [],
      response: { 200: { description: 'The Prometheus text exposition format', content: { 'text/plain': { schema: z.string() } } } }
    }
  }, async (_request, reply) => {
    return reply.header('content-type', app.metrics.registry.contentType).send(await app.metrics.registry.metrics())
  })
}

export default healthRoutes
