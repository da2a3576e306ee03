import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { ApiError } from '../src/api-error.js'
import { errors } from '../schemas/common.js'
import { CreatedSession, CreateSessionBody, SessionList } from '../schemas/sessions.js'
import { sessionOut } from './session-view.js'

/** POST /v1/sessions (anyone) and GET /v1/sessions (the admin token only). */
const sessionRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post('/sessions', {
    schema: {
      operationId: 'createSession',
      tags: ['sessions'],
      summary: 'Create a session: one simulated machine with one kernel model',
      description: 'Returns the session id and its bearer token (shown only this once).',
      // No token: creating a session is how a client gets one.
      security: [],
      body: CreateSessionBody.nullish(),
      response: { 201: CreatedSession, ...errors(400, 413, 415, 429, 503) }
    }
  }, async (request, reply) => {
    const { kernel, limits, snapshot } = request.body ?? {}
    if (snapshot !== undefined && kernel !== undefined && kernel !== snapshot.kernel) {
      throw new ApiError(400, 'validation', `kernel ${kernel} does not match the snapshot's ${snapshot.kernel}`, { kernel, snapshotKernel: snapshot.kernel })
    }
    const { session, token } = await app.sessions.open(snapshot?.kernel ?? kernel ?? '2.6.11', limits, snapshot)
    return reply.code(201).send({ ...sessionOut(app.sessions, session), token })
  })

  app.get('/sessions', {
    schema: {
      operationId: 'listSessions',
      tags: ['sessions'],
      summary: 'List every session (admin token only)',
      security: [{ bearer: [] }],
      response: { 200: SessionList, ...errors(401, 403, 429, 503) }
    }
  }, async (request) => {
    const admin = app.config.ADMIN_TOKEN
    const token = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1]
    if (admin === undefined) throw new ApiError(403, 'forbidden', 'listing sessions is disabled (no ADMIN_TOKEN is configured)')
    if (token === undefined || !app.adminTokenMatches(token)) throw new ApiError(401, 'unauthorized', 'this route needs "Authorization: Bearer <admin token>"')
    return { sessions: app.sessions.list().map((s) => sessionOut(app.sessions, s)), maxSessions: app.sessions.maxSessions }
  })
}

export default sessionRoutes
