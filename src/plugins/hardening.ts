import fastifyCors from '@fastify/cors'
import fastifyHelmet from '@fastify/helmet'
import fastifyRateLimit from '@fastify/rate-limit'
import fastifyUnderPressure from '@fastify/under-pressure'
import type { FastifyInstance } from 'fastify'
import { getHeapStatistics } from 'node:v8'

declare module 'fastify' {
  interface FastifyInstance {
    shuttingDown: boolean
  }
}

/** Routes that load balancers and scrapers call: never rate limited, never refused under pressure. */
export const OPS_ROUTES = new Set(['/health', '/ready', '/metrics'])

/**
 * Security headers (helmet), CORS (closed unless origins are configured), a per-client rate limit,
 * and load shedding (under-pressure: 503 while the event loop or heap is overloaded).
 */
export async function registerHardening (app: FastifyInstance): Promise<void> {
  const config = app.config
  app.decorate('shuttingDown', false)
  // A JSON API needs no Content-Security-Policy (building it is a tenth of a small request's cost);
  // the one HTML page, /docs, sends its own (swagger-ui staticCSP).
  await app.register(fastifyHelmet, { global: true, contentSecurityPolicy: false })
  await app.register(fastifyCors, {
    origin: config.CORS_ORIGINS.length === 0 ? false : config.CORS_ORIGINS,
    methods: ['GET', 'HEAD', 'POST', 'DELETE'],
    exposedHeaders: ['x-request-id']
  })
  if (config.RATE_LIMIT_PER_MINUTE > 0) {
    await app.register(fastifyRateLimit, {
      max: config.RATE_LIMIT_PER_MINUTE,
      timeWindow: 60000,
      allowList: (request) => OPS_ROUTES.has(request.routeOptions.url ?? ''),
      errorResponseBuilder: (_request, ctx) => ({
        statusCode: 429,
        error: { code: 'limit', message: `rate limit: at most ${ctx.max} requests a minute per client; retry in ${ctx.after}`, details: { max: ctx.max, retryAfter: ctx.after } }
      })
    })
  }
  await app.register(fastifyUnderPressure, {
    maxEventLoopDelay: 2000,
    // under-pressure reports an interval without a single loop turn as an infinite delay and sheds
    // load for the next interval: with its default 1 s interval, a one-off stall of about a second
    // (seen once in the load run's 100-subscriber WebSocket phase) refused requests although the
    // threshold is 2 s. Sampling every 2 s makes "no turn in the interval" mean the same 2 s.
    sampleInterval: 2000,
    maxHeapUsedBytes: Math.floor(getHeapStatistics().heap_size_limit * 0.9),
    exposeStatusRoute: false,
    pressureHandler: (request, reply, type, value) => {
      if (OPS_ROUTES.has(request.routeOptions.url ?? '')) return
      reply.code(503).header('retry-after', '5').send({ error: { code: 'unavailable', message: `the server is overloaded (${type}${value !== undefined ? ` ${Math.round(Number(value))}` : ''}); retry shortly` } })
    }
  })
  app.addHook('preClose', async () => { app.shuttingDown = true })
  // Every reply names its request; while shutting down it also says "Connection: close" so
  // keep-alive clients let go and the server can finish closing.
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id)
    if (app.shuttingDown) reply.header('connection', 'close')
    done(null, payload)
  })
}
