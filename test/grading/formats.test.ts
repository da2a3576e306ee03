/**
 * The grader formats against the schemas their documentation gives (grading-notes.md):
 * Gradescope's results.json, PrairieLearn's external grader results.json, Autolab's last line.
 */
import t from 'tap'
import { z } from 'zod'
import { generateExercise } from '../../src/grading/exercises/index.js'
import { autolabOutput, formatReport, gradescopeResults, prairieLearnResults } from '../../src/grading/formats.js'
import { gradeSubmission } from '../../src/grading/grade.js'

const Visibility = z.enum(['hidden', 'after_due_date', 'after_published', 'visible'])
/** Gradescope autograder results.json (gradescope-autograders.readthedocs.io, "Output Format"). */
const Gradescope = z.object({
  score: z.number().optional(),
  execution_time: z.number().optional(),
  output: z.string().optional(),
  visibility: Visibility.optional(),
  stdout_visibility: Visibility.optional(),
  extra_data: z.record(z.string(), z.unknown()).optional(),
  tests: z.array(z.object({
    score: z.number().optional(),
    max_score: z.number().optional(),
    name: z.string().optional(),
    number: z.string().optional(),
    output: z.string().optional(),
    tags: z.array(z.string()).optional(),
    visibility: Visibility.optional()
  }).strict()).optional(),
  leaderboard: z.array(z.unknown()).optional()
}).strict()
/** PrairieLearn external grader results.json (prairielearn.readthedocs.io, "Externally graded questions"). */
const PrairieLearn = z.object({
  gradable: z.boolean(),
  score: z.number().min(0).max(1),
  message: z.string().optional(),
  output: z.string().optional(),
  format_errors: z.array(z.string()).optional(),
  images: z.array(z.unknown()).optional(),
  tests: z.array(z.object({
    name: z.string(),
    description: z.string().optional(),
    points: z.number(),
    max_points: z.number(),
    message: z.string().optional(),
    output: z.string().optional()
  }).strict()).optional()
}).strict()
/** Autolab: the last line of the output is {"scores": {...}, "scoreboard": [...]}. */
const AutolabLast = z.object({ scores: z.record(z.string(), z.number()), scoreboard: z.array(z.number()).optional() }).strict()

t.test('every format validates, for a full, a partial and an empty submission', async (t) => {
  for (const topic of ['anon-walk', 'struct-page', 'inverse', 'page-walk'] as const) {
    const g = generateExercise({ topic, seed: 21, kernel: '6.18', difficulty: 2 })
    const full = Object.fromEntries(Object.entries(g.key.answers).map(([id, k]) => [id, k.answer]))
    const partial = { ...full, q1: null }
    for (const [what, answers] of [['full', full], ['partial', partial], ['empty', {}]] as const) {
      const r = gradeSubmission(g.exercise, g.key, { answers })
      const gs = Gradescope.safeParse(gradescopeResults(r))
      t.ok(gs.success, `${topic} ${what}: Gradescope`, { error: gs.error?.message })
      const pl = PrairieLearn.safeParse(prairieLearnResults(r))
      t.ok(pl.success, `${topic} ${what}: PrairieLearn`, { error: pl.error?.message })
      const lines = autolabOutput(r).trimEnd().split('\n')
      const al = AutolabLast.safeParse(JSON.parse(lines[lines.length - 1]))
      t.ok(al.success, `${topic} ${what}: Autolab's last line`)
      t.equal(Object.values(al.data?.scores ?? {}).reduce((a, b) => a + b, 0), r.score, 'Autolab scores add up')
      t.equal(pl.data?.score, r.maxScore === 0 ? 0 : Math.round(r.score / r.maxScore * 10000) / 10000)
      t.equal((gradescopeResults(r).tests as unknown[]).length, g.exercise.questions.length)
      t.equal(JSON.parse(formatReport(r, 'json')).score, r.score)
      t.ok(Buffer.byteLength(JSON.stringify(prairieLearnResults(r))) < 1_000_000, 'PrairieLearn results stay under 1 MB')
    }
  }
})
