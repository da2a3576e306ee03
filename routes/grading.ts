import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { errors, SessionParams } from '../schemas/common.js'
import { CompareBody, CompareReply } from '../schemas/compare.js'
import { BatchReply, JournalReply, makeOpsBody, outcomeOut } from '../schemas/ops.js'
import { SnapshotSchema } from '../schemas/snapshot.js'
import { compare } from '../src/grading/compare.js'
import { tagSim } from '../src/plugins/session-auth.js'
import { runBatch } from '../src/grading/batch.js'

/** For grading backends: batches of ops, snapshots, the journal, and field-by-field comparison. */
const gradingRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post('/ops', {
    schema: {
      operationId: 'applyOps',
      tags: ['grading'],
      summary: 'Apply a list of operations in order (atomic: all or nothing; continue: report each failure)',
      description: 'Accepts the conformance scenario format as is (files, ops with proc/child names, probe). Processes may be named at spawn/fork and referred to by `proc` later.',
      params: SessionParams,
      body: makeOpsBody(app.config.MAX_BATCH_OPS),
      response: { 200: BatchReply, ...errors(400, 401, 404, 413, 415, 422, 429, 503) }
    }
  }, async (request) => runBatch(tagSim(request), request.body, outcomeOut))

  app.get('/snapshot', {
    schema: { operationId: 'getSnapshot', tags: ['grading'], summary: 'The complete state as versioned JSON (POST it to /v1/sessions to restore)', params: SessionParams, response: { 200: SnapshotSchema, ...errors(401, 404, 429, 503) } }
  }, async (request) => request.simSession.sim.snapshot())

  app.get('/journal', {
    schema: { operationId: 'getJournal', tags: ['grading'], summary: 'Every operation applied so far; replaying it in a new session gives the same state and events', params: SessionParams, response: { 200: JournalReply, ...errors(401, 404, 429, 503) } }
  }, async (request) => {
    const sim = request.simSession.sim
    return { kernel: sim.version, fromSnapshot: sim.fromSnapshot, truncated: sim.journalTruncated, ops: sim.journalOps() }
  })

  app.post('/compare', {
    schema: { operationId: 'compare', tags: ['grading'], summary: "Compare a grader's expected answer (a frame, a PTE, a process) field by field", params: SessionParams, body: CompareBody, response: { 200: CompareReply, ...errors(400, 401, 404, 413, 415, 429, 503) } }
  }, async (request) => compare(request.simSession.sim, request.body))
}

export default gradingRoutes
