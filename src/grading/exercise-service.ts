import type { Session } from '../sessions/session.js'
import type { SessionStore } from '../sessions/session-store.js'
import { runBatch } from './batch.js'
import { formatResult, type GradeFormat, type Visibility } from './formats.js'
import { gradeSubmission, type FeedbackDetail, type GradeReport } from './grade.js'
import { exerciseId, generateExercise, type ExerciseSpec, type GeneratedExercise } from './exercises/index.js'

/**
 * Exercises are never stored: the spec regenerates the same exercise and key anywhere, so a grader
 * needs only the spec and the answers. Recent specs are cached (generation runs an engine).
 */
const CACHE_SIZE = 256
const cache = new Map<string, GeneratedExercise>()

export function exerciseFor (spec: ExerciseSpec): GeneratedExercise {
  const id = exerciseId(spec)
  let g = cache.get(id)
  if (g === undefined) {
    g = generateExercise(spec)
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string)
    cache.set(id, g)
  }
  // Callers get copies: the cached exercise must stay as generated.
  return structuredClone(g)
}

export interface Graded { format: GradeFormat, report: GradeReport, result: Record<string, unknown> | string }

export interface GradeRequest { answers: Record<string, unknown>, format: GradeFormat, feedback: FeedbackDetail, visibility: Visibility }

export function gradeFor (spec: ExerciseSpec, req: GradeRequest): Graded {
  const { exercise, key } = exerciseFor(spec)
  const report = gradeSubmission(exercise, key, { answers: req.answers }, req.feedback)
  return { format: req.format, report, result: formatResult(report, req.format, { visibility: req.visibility }) }
}

/**
 * A session of the exercise's kernel with its setup applied. A setup the server's session limits cannot
 * hold fails the batch (422) and leaves no session behind. With durable sessions it is stored as it
 * stands after the setup (a snapshot: its journal starts there).
 */
export async function openExerciseSession (sessions: SessionStore, spec: ExerciseSpec): Promise<{ session: Session, token: string, exercise: GeneratedExercise['exercise'] }> {
  const { exercise } = exerciseFor(spec)
  const { session, token } = sessions.create(exercise.spec.kernel)
  try {
    runBatch(session.sim, { mode: 'atomic', ops: exercise.setup.ops }, (o) => o)
  } catch (e) {
    sessions.delete(session)
    throw e
  }
  if (sessions.durable) await sessions.persistNew(session, session.sim.snapshot())
  return { session, token, exercise }
}
