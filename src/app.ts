import { createHash, randomUUID, timingSafeEqual } from 'node:crypto'
import { hostname } from 'node:os'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import fastifyWebsocket from '@fastify/websocket'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod'
import checkRoutes from '../routes/check.js'
import eventRoutes from '../routes/events.js'
import exerciseRoutes from '../routes/exercises.js'
import fileRoutes from '../routes/files.js'
import frameRoutes from '../routes/frames.js'
import gradingRoutes from '../routes/grading.js'
import healthRoutes from '../routes/health.js'
import memoryRoutes from '../routes/memory.js'
import pageTableRoutes from '../routes/page-tables.js'
import processRoutes from '../routes/processes.js'
import sessionRoute from '../routes/session.js'
import sessionRoutes from '../routes/sessions.js'
import type { Config } from './config.js'
import { transformDocument, transformRoute } from './openapi.js'
import { registerExplorer } from './plugins/explorer.js'
import { errorHandler, frameworkErrorHandler, notFoundHandler } from './plugins/error-handler.js'
import { registerHardening } from './plugins/hardening.js'
import { registerMetrics } from './plugins/metrics.js'
import { authenticate } from './plugins/session-auth.js'
import { registerIdempotency } from './plugins/idempotency.js'
import { CLOSE, type LagSink } from './sessions/event-hub.js'
import type { Session } from './sessions/session.js'
import { SessionStore } from './sessions/session-store.js'
import type { DurableStore } from './store/durable-store.js'
import { RedisStore } from './store/redis-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    sessions: SessionStore
    adminTokenMatches: (token: string) => boolean
    /** Set by the metrics plugin when it is registered. */
    metricsHooks?: { wsDropped: (why: string) => void }
    /** With REDIS_URL: where sessions outlive this process. */
    durableStore: DurableStore | undefined
  }
}

export interface AppOptions {
  config: Config
  /** pino options or false; defaults to the configured level. */
  logger?: FastifyServerOptions['logger']
  /** Clock for session expiry (tests). */
  now?: () => number
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/

/** Strips credentials from what the logs show of a request URL (WebSocket ?token=). */
export const redactUrl = (url: string): string => url.replace(/([?&]token=)[^&]*/gi, '$1[redacted]')

/**
 * Builds the server: plugins and routes registered explicitly, nothing listening yet. One error
 * shape everywhere, zod schemas for validation, serialization and the OpenAPI document.
 */
export async function buildApp (opts: AppOptions): Promise<FastifyInstance> {
  const { config } = opts
  const app = Fastify({
    logger: opts.logger ?? {
      level: config.LOG_LEVEL,
      redact: ['req.headers.authorization', 'req.headers["sec-websocket-protocol"]'],
      serializers: {
        req: (req: { method: string, url: string, id: string, ip?: string }) => ({ method: req.method, url: redactUrl(req.url), id: req.id, remoteAddress: req.ip })
      }
    },
    bodyLimit: config.BODY_LIMIT,
    trustProxy: config.TRUST_PROXY,
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    connectionTimeout: config.REQUEST_TIMEOUT_MS,
    genReqId: (req) => {
      const h = req.headers['x-request-id']
      return typeof h === 'string' && REQUEST_ID.test(h) ? h : randomUUID()
    },
    routerOptions: { maxParamLength: 256 },
    frameworkErrors: frameworkErrorHandler
  }).withTypeProvider<ZodTypeProvider>()

  app.setValidatorCompiler(validatorCompiler)
  // Replies are built by the schemas' own shaping functions; checking each against its zod schema
  // (the tests do) doubles the cost of a big reply, so production sends them as they are.
  // JSON.stringify rather than fast-json-stringify: measured, the precompiled writer saves 1.5 µs on an
  // 8-mapping rmap reply but costs 25% more on a 1,000-mapping one (its output is a rope of small
  // strings that must be flattened before the socket write).
  app.setSerializerCompiler(config.VALIDATE_RESPONSES ? serializerCompiler : () => (data) => JSON.stringify(data))
  app.setErrorHandler(errorHandler)
  // (the not-found handler is set after the rate limiter, so unknown routes are limited too)

  const eventLag: LagSink = {}
  const durableStore = config.REDIS_URL === undefined
    ? undefined
    : new RedisStore({
      url: config.REDIS_URL,
      node: config.NODE_ID ?? `${hostname()}-${process.pid}`,
      leaseMs: config.LEASE_MS,
      // Keys of a session nobody uses go a minute after the session would have expired anyway.
      keyTtlMs: config.SESSION_IDLE_SECONDS * 1000 + 60000,
      commandTimeoutMs: config.STORE_TIMEOUT_MS
    })
  const sessions = new SessionStore({
    maxSessions: config.MAX_SESSIONS,
    idleMs: config.SESSION_IDLE_SECONDS * 1000,
    now: opts.now,
    stream: { history: config.EVENT_HISTORY, maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES, lag: eventLag },
    limits: {
      maxProcesses: config.SESSION_MAX_PROCESSES,
      maxVmasPerProcess: config.SESSION_MAX_VMAS,
      maxFrames: config.SESSION_MAX_FRAMES,
      maxFiles: config.SESSION_MAX_FILES,
      maxFilePages: config.SESSION_MAX_FILE_PAGES,
      maxSwapSlots: config.SESSION_MAX_SWAP_SLOTS
    },
    durable: durableStore === undefined
      ? undefined
      : { store: durableStore, snapshotEvery: config.SNAPSHOT_EVERY, log: (msg, err) => { app.log.warn({ err }, msg) } }
  })
  const adminHash = config.ADMIN_TOKEN === undefined ? undefined : createHash('sha256').update(config.ADMIN_TOKEN).digest()
  // Declared up front so every request object has the same shape (set by the session-auth hook).
  app.decorateRequest('simSession', null as unknown as Session)
  app.decorate('config', config)
  app.decorate('sessions', sessions)
  app.decorate('durableStore', durableStore)
  // Several processes behind a proxy: each reply says which one (and which start of it) served it.
  if (durableStore !== undefined) {
    const owner = durableStore.owner
    app.addHook('onSend', (_request, reply, payload, done) => { reply.header('x-rmap-node', owner); done(null, payload) })
  }
  app.decorate('adminTokenMatches', (token: string) =>
    adminHash !== undefined && timingSafeEqual(createHash('sha256').update(token).digest(), adminHash))
  app.addHook('onReady', async () => {
    sessions.start()
    // Past its lease without renewal, this process may no longer write: it drops every session.
    await durableStore?.start((why) => {
      app.log.error(`node lease lost (${why}): dropping every session`)
      sessions.dropAll(why)
    })
  })
  app.addHook('onClose', async () => {
    // Graceful: every session stored, snapshotted and released before the sockets close.
    await sessions.handOffAll()
    sessions.close()
    await durableStore?.close()
  })
  sessions.onRemove((s, why) => {
    if (why === 'deleted') s.events.closeAll(CLOSE.sessionDeleted, 'session deleted')
    else if (why === 'expired') s.events.closeAll(CLOSE.sessionExpired, 'session expired')
    else if (why === 'lost') s.events.closeAll(CLOSE.moved, 'this process no longer serves the session: reconnect and resume with ?since=')
    else s.events.closeAll(CLOSE.goingAway, 'server shutting down')
  })

  await registerHardening(app)
  app.setNotFoundHandler(config.RATE_LIMIT_PER_MINUTE > 0 ? { preHandler: app.rateLimit() } : {}, notFoundHandler)
  registerMetrics(app, eventLag)

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'rmap-sim',
        version: '1.0.0',
        description: 'A kernel-faithful simulator of the Linux reverse map (rmap). Create a session, then map memory, fork, fault and ask the rmap of a frame. Addresses are hex strings; PFNs are integers.',
        license: { name: 'MIT', identifier: 'MIT' }
      },
      // Relative: the API is served from the origin (and any path prefix a proxy adds) this document
      // is read from; the listening address is not what clients behind a proxy use.
      servers: [{ url: '/', description: 'The server this document is served by' }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'A session\'s token (from POST /v1/sessions) on its routes; the admin token (ADMIN_TOKEN) on GET /v1/sessions' }
        }
      },
      // Every route but POST /v1/sessions and the probes (/health, /ready, /metrics: security: []).
      security: [{ bearer: [] }]
    },
    transform: transformRoute,
    transformObject: transformDocument
  })
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true })
  await registerExplorer(app)
  await app.register(fastifyWebsocket, {
    options: { maxPayload: config.WS_MAX_MESSAGE_BYTES },
    // Shutdown: every event socket is told the server is going away (1001).
    preClose: function (done) {
      app.shuttingDown = true
      for (const s of sessions.list()) s.events.closeAll(CLOSE.goingAway, 'server shutting down')
      for (const client of this.websocketServer.clients) client.close(CLOSE.goingAway, 'server shutting down')
      // A peer that never answers the close frame must not hold the shutdown: cut it after a second.
      const cut = setTimeout(() => { for (const client of this.websocketServer.clients) client.terminate() }, 1000)
      cut.unref()
      this.websocketServer.close(() => { clearTimeout(cut); done() })
    },
    errorHandler: (err, socket, request) => {
      request.log.error({ err }, 'event socket handler failed')
      socket.close(1011, 'internal error')
    }
  })

  await app.register(healthRoutes)
  await app.register(sessionRoutes, { prefix: '/v1' })
  await app.register(exerciseRoutes, { prefix: '/v1' })
  await app.register(async (scoped) => {
    scoped.addHook('onRequest', authenticate)
    // Idempotency-Key on the POST routes; with durable sessions, replies wait until the ops are stored.
    registerIdempotency(scoped)
    await scoped.register(sessionRoute)
    await scoped.register(fileRoutes)
    await scoped.register(processRoutes)
    await scoped.register(memoryRoutes)
    await scoped.register(pageTableRoutes)
    await scoped.register(frameRoutes)
    await scoped.register(checkRoutes)
    await scoped.register(eventRoutes)
    await scoped.register(gradingRoutes)
  }, { prefix: '/v1/sessions/:sid' })

  return app
}
