import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { errors, PidParams } from '../schemas/common.js'
import { PteList, PtesQuery, pteListOut, Translate, TranslateQuery, translateOut } from '../schemas/memory.js'

/** Forward page-table walks. */
const pageTableRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/processes/:pid/translate', {
    schema: { operationId: 'translate', tags: ['page tables'], summary: "Walk pgd, pud, pmd and pte for an address: each level's entry and the frame", params: PidParams, querystring: TranslateQuery, response: { 200: Translate, ...errors(400, 401, 404, 429, 503) } }
  }, async (request) => translateOut(request.simSession.sim.translate(request.params.pid, request.query.addr)))

  app.get('/processes/:pid/ptes', {
    schema: { operationId: 'listPtes', tags: ['page tables'], summary: 'Present, PROT_NONE and swap PTEs in a range, in address order, paged', params: PidParams, querystring: PtesQuery, response: { 200: PteList, ...errors(400, 401, 404, 429, 503) } }
  }, async (request) => pteListOut(request.simSession.sim.ptes(request.params.pid, request.query.from, request.query.to, request.query.limit)))
}

export default pageTableRoutes
