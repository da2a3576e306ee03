import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { z } from 'zod'
import { errors, PfnParams, SessionParams } from '../schemas/common.js'
import { Frame, FrameList, FramesQuery, frameOut, Migrate, Mkclean, Referenced, Rmap, RmapQuery, rmapJson, Unmap, withTraceOut } from '../schemas/frames.js'
import { tagSim } from '../src/plugins/session-auth.js'

/** Frames (struct page), their reverse map, and the rmap operations. */
const frameRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/frames', {
    schema: { operationId: 'listFrames', tags: ['frames'], summary: 'Frames in use, filtered by kind, mapped or file, paged by PFN', params: SessionParams, querystring: FramesQuery, response: { 200: FrameList, ...errors(400, 401, 404, 429, 503) } }
  }, async (request) => {
    const r = request.simSession.sim.frames(request.query)
    return { frames: r.frames.map(frameOut), next: r.next }
  })

  app.get('/frames/:pfn', {
    schema: { operationId: 'getFrame', tags: ['frames'], summary: 'struct page: flags, _count, _mapcount, mapping (raw and decoded), index', params: PfnParams, response: { 200: Frame, ...errors(400, 401, 404, 429, 503) } }
  }, async (request) => frameOut(request.simSession.sim.frame(request.params.pfn)))

  app.get('/frames/:pfn/rmap', {
    schema: { operationId: 'rmapWalk', tags: ['rmap'], summary: 'rmap_walk: every (pid, VMA, address, PTE) mapping the frame; ?trace=true adds each step', params: PfnParams, querystring: RmapQuery, response: { 200: Rmap, ...errors(400, 401, 404, 429, 503) } }
  }, async (request, reply) => {
    const sim = request.simSession.sim
    const end = app.metrics.rmapWalk.startTimer()
    const r = sim.rmap(request.params.pfn, request.query.trace)
    end()
    // Already JSON, so fastify sends it as it is. The cast stands for what rmapJson writes: the Rmap
    // schema's output, byte for byte JSON.stringify(rmapOut(r)) (test/api/rmap-json.test.ts).
    return reply.type('application/json; charset=utf-8').send(rmapJson(r) as unknown as z.output<typeof Rmap>)
  })

  app.post('/frames/:pfn/referenced', {
    schema: { operationId: 'pageReferenced', tags: ['rmap operations'], summary: 'page_referenced: test and clear the young bit of every mapping PTE; ?trace=true adds its walk', params: PfnParams, querystring: RmapQuery, response: { 200: Referenced, ...errors(400, 401, 404, 413, 415, 422, 429, 503) } }
  }, async (request) => withTraceOut(tagSim(request).referenced({ ...request.params, trace: request.query.trace })))

  app.post('/frames/:pfn/unmap', {
    schema: { operationId: 'tryToUnmap', tags: ['rmap operations'], summary: 'try_to_unmap: swap out (anonymous) or drop the PTEs (file); ?trace=true adds its walk', params: PfnParams, querystring: RmapQuery, response: { 200: Unmap, ...errors(400, 401, 404, 413, 415, 422, 429, 503) } }
  }, async (request) => withTraceOut(tagSim(request).unmap({ ...request.params, trace: request.query.trace })))

  app.post('/frames/:pfn/mkclean', {
    schema: { operationId: 'pageMkclean', tags: ['rmap operations'], summary: 'page_mkclean: write-protect and clean every shared mapping, then write back', params: PfnParams, response: { 200: Mkclean, ...errors(400, 401, 404, 413, 415, 422, 429, 503) } }
  }, async (request) => tagSim(request).mkclean(request.params))

  app.post('/frames/:pfn/migrate', {
    schema: { operationId: 'migratePage', tags: ['rmap operations'], summary: 'Migrate the page to a new frame through migration entries', params: PfnParams, response: { 200: Migrate, ...errors(400, 401, 404, 413, 415, 422, 429, 503) } }
  }, async (request) => tagSim(request).migrate(request.params))
}

export default frameRoutes
