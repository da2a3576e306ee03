import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { Empty, errors, PidParams, SessionParams } from '../schemas/common.js'
import { ForkBody, Process, ProcessDetail, ProcessesQuery, ProcessList, SpawnBody, processOut, vmaOut } from '../schemas/processes.js'
import { tagSim } from '../src/plugins/session-auth.js'

/** Processes: spawn, list, inspect, fork, exit. */
const processRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post('/processes', {
    schema: { operationId: 'spawnProcess', tags: ['processes'], summary: 'Spawn a process with an empty address space', params: SessionParams, body: SpawnBody.nullish(), response: { 201: Process, ...errors(400, 401, 404, 409, 413, 415, 429, 503) } }
  }, async (request, reply) => reply.code(201).send(processOut(tagSim(request).spawn({ name: request.body?.name }))))

  app.get('/processes', {
    schema: { operationId: 'listProcesses', tags: ['processes'], summary: 'List live processes (with ?vmas=true, each with its VMAs)', params: SessionParams, querystring: ProcessesQuery, response: { 200: ProcessList, ...errors(400, 401, 404, 429, 503) } }
  }, async (request) => {
    const sim = request.simSession.sim
    if (!request.query.vmas) return { processes: sim.processes().map(processOut) }
    return { processes: sim.processes().map((p) => ({ ...processOut(p), vmaList: sim.processInfo(p.pid).vmaList.map(vmaOut) })) }
  })

  app.get('/processes/:pid', {
    schema: { operationId: 'getProcess', tags: ['processes'], summary: 'A process with its VMAs (start, end, pgoff, prot, flags, file, anon_vma)', params: PidParams, response: { 200: ProcessDetail, ...errors(400, 401, 404, 429, 503) } }
  }, async (request) => {
    const p = request.simSession.sim.processInfo(request.params.pid)
    return { ...processOut(p), vmaList: p.vmaList.map(vmaOut) }
  })

  app.post('/processes/:pid/fork', {
    schema: { operationId: 'fork', tags: ['processes'], summary: "Fork: the child gets copies of the VMAs and, per the kernel model's rules, of the PTEs", params: PidParams, body: ForkBody.nullish(), response: { 201: Process, ...errors(400, 401, 404, 409, 413, 415, 429, 503) } }
  }, async (request, reply) => reply.code(201).send(processOut(tagSim(request).fork({ pid: request.params.pid, name: request.body?.name }))))

  app.post('/processes/:pid/exit', {
    schema: { operationId: 'exitProcess', tags: ['processes'], summary: 'Exit: every mapping is torn down and its frames released', params: PidParams, response: { 200: Empty, ...errors(400, 401, 404, 413, 415, 429, 503) } }
  }, async (request) => {
    tagSim(request).exit({ pid: request.params.pid })
    return { ok: true as const }
  })
}

export default processRoutes
