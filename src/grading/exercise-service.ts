import { formatReport, gradescopeResults, prairieLearnResults, type GradeFormat } from './formats.js'
import { gradeSubmission, type GradeReport } from './grade.js'
import { generateExercise, type ExerciseSpec, type GeneratedExercise } from './exercises/index.js'

/**
 * Exercises are never stored: the spec regenerates the same exercise and key anywhere, so a grader
 * needs only the spec and the answers. Recent specs are cached (generation runs an engine).
 */
const CACHE_SIZE = 256
const cache = new Map<string, GeneratedExercise>()

export function exerciseFor (spec: ExerciseSpec): GeneratedExercise {
  const id = `${spec.topic}/${spec.kernel}/d${spec.difficulty}/s${spec.seed}`
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

export function gradeFor (spec: ExerciseSpec, answers: Record<string, unknown>, format: GradeFormat): Graded {
  const { exercise, key } = exerciseFor(spec)
  const report = gradeSubmission(exercise, key, { answers })
  const result = format === 'json'
    ? report as unknown as Record<string, unknown>
    : format === 'gradescope'
      ? gradescopeResults(report)
      : format === 'prairielearn' ? prairieLearnResults(report) : formatReport(report, 'autolab')
  return { format, report, result }
}
