import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { errors, SessionParams } from '../schemas/common.js'
import { SessionSummary } from '../schemas/sessions.js'
import { sessionOut } from './session-view.js'

/**
 * GET and DELETE /v1/sessions/:sid. Registered as '/' inside the /v1/sessions/:sid prefix, so fastify
 * serves /v1/sessions/:sid and, as it always has, /v1/sessions/:sid/ (request.routeOptions.url is
 * /v1/sessions/:sid for both); the document gives the first (src/openapi.ts, transformRoute).
 */
const sessionRoute: FastifyPluginAsyncZod = async (app) => {
  app.get('/', {
    schema: { operationId: 'getSession', tags: ['sessions'], summary: 'Session summary and counts', params: SessionParams, response: { 200: SessionSummary, ...errors(401, 404, 429, 503) } }
  }, async (request) => sessionOut(app.sessions, request.simSession))

  app.delete('/', {
    schema: { operationId: 'deleteSession', tags: ['sessions'], summary: 'Delete the session (its WebSockets are closed)', params: SessionParams, response: { 204: z.null().meta({ description: 'Deleted' }), ...errors(400, 401, 404, 413, 415, 429, 503) } }
  }, async (request, reply) => {
    app.sessions.delete(request.simSession)
    return reply.code(204).send(null)
  })
}

export default sessionRoute
