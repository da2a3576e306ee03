import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { errors, SessionParams } from '../schemas/common.js'

const Report = z.object({
  ok: z.boolean(),
  violations: z.array(z.string()),
  checked: z.object({ frames: z.number(), ptes: z.number(), swapEntries: z.number(), vmas: z.number(), walks: z.number(), anonVmas: z.number() })
})

/** GET /check: the invariant report. */
const checkRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/check', {
    schema: { operationId: 'checkInvariants', tags: ['state'], summary: 'Check every invariant: mapcounts, refcounts, rmap walks, trees, swap counts', params: SessionParams, response: { 200: Report, ...errors(401, 404, 429, 503) } }
  }, async (request) => request.simSession.sim.check())
}

export default checkRoutes
