import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { ApiError } from '../src/api-error.js'
import { Empty, errors, PidParams, toHex } from '../schemas/common.js'
import { Access, AccessBody, accessOut, MadviseBody, MmapBody, MprotectBody, MremapBody, MremapReply, RangeBody } from '../schemas/memory.js'
import { Vma, vmaOut } from '../schemas/processes.js'
import { tagSim } from '../src/plugins/session-auth.js'
import { SignalError } from '../src/sim/index.js'

/** A process's address space: mmap, munmap, mprotect, mremap, madvise, mlock, munlock, and memory accesses. */
const memoryRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post('/processes/:pid/mmap', {
    schema: { operationId: 'mmap', tags: ['address space'], summary: 'mmap: anonymous or file, private or shared, at a fixed address or where the kernel chooses', params: PidParams, body: MmapBody, response: { 201: Vma, ...errors(400, 401, 404, 409, 413, 415, 429, 503) } }
  }, async (request, reply) => reply.code(201).send(vmaOut(tagSim(request).mmap({ pid: request.params.pid, ...request.body }))))

  app.post('/processes/:pid/munmap', {
    schema: { operationId: 'munmap', tags: ['address space'], summary: 'munmap a range (VMAs are split at its edges)', params: PidParams, body: RangeBody, response: { 200: Empty, ...errors(400, 401, 404, 413, 415, 429, 503) } }
  }, async (request) => {
    tagSim(request).munmap({ pid: request.params.pid, ...request.body })
    return { ok: true as const }
  })

  app.post('/processes/:pid/mprotect', {
    schema: { operationId: 'mprotect', tags: ['address space'], summary: 'mprotect a range', params: PidParams, body: MprotectBody, response: { 200: Empty, ...errors(400, 401, 404, 413, 415, 429, 503) } }
  }, async (request) => {
    tagSim(request).mprotect({ pid: request.params.pid, ...request.body })
    return { ok: true as const }
  })

  app.post('/processes/:pid/mremap', {
    schema: { operationId: 'mremap', tags: ['address space'], summary: 'mremap: shrink, grow in place, or move (PTEs move, pgoff is kept)', params: PidParams, body: MremapBody, response: { 200: MremapReply, ...errors(400, 401, 404, 413, 415, 429, 503) } }
  }, async (request) => ({ addr: toHex(tagSim(request).mremap({ pid: request.params.pid, ...request.body }).addr) }))

  app.post('/processes/:pid/madvise', {
    schema: {
      operationId: 'madvise',
      tags: ['address space'],
      summary: 'madvise a range: dontneed (zap), dontfork/dofork, wipeonfork/keeponfork, populate_read/populate_write',
      description: 'A kernel model without the advice (2.6.11 has none but dontneed) answers 422 unsupported, naming the version that added it.',
      params: PidParams,
      body: MadviseBody,
      response: { 200: Empty, ...errors(400, 401, 404, 413, 415, 422, 429, 503) }
    }
  }, async (request) => {
    tagSim(request).madvise({ pid: request.params.pid, ...request.body })
    return { ok: true as const }
  })

  app.post('/processes/:pid/mlock', {
    schema: { operationId: 'mlock', tags: ['address space'], summary: 'mlock a range: VM_LOCKED, faulted in at once, its pages kept from reclaim', params: PidParams, body: RangeBody, response: { 200: Empty, ...errors(400, 401, 404, 413, 415, 429, 503) } }
  }, async (request) => {
    tagSim(request).mlock({ pid: request.params.pid, ...request.body })
    return { ok: true as const }
  })

  app.post('/processes/:pid/munlock', {
    schema: { operationId: 'munlock', tags: ['address space'], summary: 'munlock a range: VM_LOCKED off, its pages evictable again', params: PidParams, body: RangeBody, response: { 200: Empty, ...errors(400, 401, 404, 413, 415, 429, 503) } }
  }, async (request) => {
    tagSim(request).munlock({ pid: request.params.pid, ...request.body })
    return { ok: true as const }
  })

  app.post('/processes/:pid/access', {
    schema: {
      operationId: 'access',
      tags: ['address space'],
      summary: 'Touch one byte (read, write or exec): the fault path taken, the resulting PTE and frame',
      description: 'An access a real process would die of (SIGSEGV, SIGBUS) is a 422 reply naming the reason; nothing changes, except in 2.6.11 for an instruction fetch from a readable, non-executable page, which is first faulted in as a read (details.path names that fault, details.pte the entry it left).',
      params: PidParams,
      body: AccessBody,
      response: { 200: Access, ...errors(400, 401, 404, 413, 415, 422, 429, 503) }
    }
  }, async (request) => {
    const r = tagSim(request)[request.body.op]({ pid: request.params.pid, addr: request.body.addr })
    if (!r.ok) {
      const signal = new SignalError(r)
      throw new ApiError(422, signal.code, signal.message, {
        signal: r.signal, siCode: r.siCode, reason: r.reason, addr: toHex(r.addr), op: r.op, pid: r.pid, vmaId: r.vmaId, path: r.path, pte: r.pte
      })
    }
    return accessOut(r)
  })
}

export default memoryRoutes
