import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'

const Ready = z.object({ ready: z.boolean(), reason: z.string().optional(), sessions: z.number().int(), maxSessions: z.number().int() })

/** Liveness, readiness and Prometheus metrics. */
const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/health', {
    schema: { operationId: 'health', tags: ['operations'], summary: 'Liveness: the process answers', security: [], response: { 200: z.object({ status: z.literal('ok') }) } }
  }, async () => ({ status: 'ok' as const }))

  app.get('/ready', {
    schema: { operationId: 'ready', tags: ['operations'], summary: 'Readiness: false while shutting down, overloaded, or at the session cap', security: [], response: { 200: Ready, 503: Ready } }
  }, async (_request, reply) => {
    const sessions = app.sessions.size
    const maxSessions = app.sessions.maxSessions
    let reason: string | undefined
    if (app.shuttingDown) reason = 'shutting down'
    else if (app.isUnderPressure()) reason = 'under pressure (event loop or heap)'
    else if (sessions >= maxSessions) reason = 'session cap reached'
    return reply.code(reason === undefined ? 200 : 503).send({ ready: reason === undefined, reason, sessions, maxSessions })
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
