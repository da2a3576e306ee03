import type { FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { errors } from '../schemas/common.js'
import { ExerciseReply, ExerciseSpecBody, GradeBody, GradeReply, KeyReply } from '../schemas/exercises.js'
import { CreatedSession } from '../schemas/sessions.js'
import { ApiError } from '../src/api-error.js'
import { exerciseFor, gradeFor, openExerciseSession } from '../src/grading/exercise-service.js'
import { sessionOut } from './session-view.js'
import { z } from 'zod'

/**
 * Exercises for teachers and grading backends. Anyone may generate an exercise or open a session
 * prepared with its setup; the answer key and grading need the admin token (a teacher's credential:
 * a student's session token never reveals a key). Offline, `rmap-sim key` and `rmap-sim grade` do
 * the same with no server.
 */
const exerciseRoutes: FastifyPluginAsyncZod = async (app) => {
  /** Before the body is validated: without the admin token nothing about the request is answered. */
  const adminOnly = (what: string) => async (request: FastifyRequest): Promise<void> => {
    if (app.config.ADMIN_TOKEN === undefined) throw new ApiError(403, 'forbidden', `${what} is disabled: no ADMIN_TOKEN is configured (use the CLI offline: rmap-sim key / rmap-sim grade)`)
    const token = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1]
    if (token === undefined || !app.adminTokenMatches(token)) throw new ApiError(401, 'unauthorized', `${what} needs "Authorization: Bearer <admin token>"`)
  }

  app.post('/exercises', {
    schema: {
      operationId: 'generateExercise',
      tags: ['exercises'],
      summary: 'Generate an exercise (setup and questions, no key) from topic, seed, kernel and difficulty',
      security: [],
      body: ExerciseSpecBody,
      response: { 200: ExerciseReply, ...errors(400, 413, 415, 429, 503) }
    }
  }, async (request) => ({ exercise: exerciseFor(request.body).exercise }))

  app.post('/exercises/key', {
    schema: {
      operationId: 'exerciseKey',
      tags: ['exercises'],
      summary: 'The answer key of an exercise, with the kernel rule behind each answer (admin token only)',
      security: [{ bearer: [] }],
      body: ExerciseSpecBody,
      response: { 200: KeyReply, ...errors(400, 401, 403, 413, 415, 429, 503) }
    },
    preValidation: adminOnly('the answer key')
  }, async (request) => ({ key: exerciseFor(request.body).key }))

  app.post('/exercises/session', {
    schema: {
      operationId: 'exerciseSession',
      tags: ['exercises'],
      summary: 'Open a session of the exercise\'s kernel with its setup applied (the student explores it)',
      description: 'Returns the session (with its bearer token, shown once) and the exercise; the key is not reachable with the session token. A setup this server\'s session limits cannot hold is a 422, and no session is left behind.',
      security: [],
      body: ExerciseSpecBody,
      response: { 201: z.object({ session: CreatedSession, exercise: ExerciseReply.shape.exercise }), ...errors(400, 413, 415, 422, 429, 503) }
    }
  }, async (request, reply) => {
    const { session, token, exercise } = await openExerciseSession(app.sessions, request.body)
    return reply.code(201).send({ session: { ...sessionOut(app.sessions, session), token }, exercise })
  })

  app.post('/exercises/grade', {
    schema: {
      operationId: 'gradeExercise',
      tags: ['exercises'],
      summary: 'Grade a submission against the key: a score per question, partial credit, feedback naming the kernel rule (admin token only)',
      security: [{ bearer: [] }],
      body: GradeBody,
      response: { 200: GradeReply, ...errors(400, 401, 403, 413, 415, 429, 503) }
    },
    preValidation: adminOnly('grading')
  }, async (request) => gradeFor(request.body.exercise, request.body))
}

export default exerciseRoutes
