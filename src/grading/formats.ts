import type { GradeReport } from './grade.js'

/**
 * A grade report in the result formats graders read (see ../shared/reference/grading-notes.md):
 * rmap-sim's own JSON, Gradescope's results.json, PrairieLearn's results.json and Autolab's last line.
 */
export const GRADE_FORMATS = ['json', 'gradescope', 'prairielearn', 'autolab'] as const
export type GradeFormat = typeof GRADE_FORMATS[number]
export type Visibility = 'hidden' | 'after_due_date' | 'after_published' | 'visible'

export interface FormatOptions {
  /** Gradescope: when students see the results. */
  visibility?: Visibility
  /** Why the submission could not be graded as given (it was graded as empty). */
  problem?: string
}

const testName = (q: GradeReport['questions'][number]): string => `${q.id}: ${q.prompt.split('\n')[0].slice(0, 120)}`

/** Gradescope autograder results.json: score, tests[] with name, number, score, max_score, output, visibility. */
export function gradescopeResults (r: GradeReport, o: FormatOptions = {}): Record<string, unknown> {
  const visibility = o.visibility ?? 'visible'
  return {
    score: r.score,
    output: `rmap-sim exercise ${r.exerciseId}: ${r.score} of ${r.maxScore}${o.problem !== undefined ? ` (${o.problem})` : ''}`,
    visibility,
    stdout_visibility: 'hidden',
    tests: r.questions.map((q, i) => ({ name: testName(q), number: String(i + 1), score: q.score, max_score: q.max, output: q.feedback, visibility }))
  }
}

/** PrairieLearn external grader results.json: gradable, score in [0, 1], message, tests[] with points and max_points. */
export function prairieLearnResults (r: GradeReport, o: FormatOptions = {}): Record<string, unknown> {
  return {
    gradable: o.problem === undefined,
    score: r.maxScore === 0 ? 0 : Math.round(r.score / r.maxScore * 10000) / 10000,
    message: `${r.score} of ${r.maxScore} points`,
    ...(o.problem !== undefined ? { format_errors: [o.problem] } : {}),
    output: r.questions.map((q) => `${q.id}: ${q.feedback}`).join('\n'),
    tests: r.questions.map((q) => ({ name: testName(q), description: q.prompt, points: q.score, max_points: q.max, message: q.feedback }))
  }
}

/** Autolab: feedback lines, then the last line {"scores": {...}, "scoreboard": [...]}. */
export function autolabOutput (r: GradeReport): string {
  const lines = r.questions.map((q) => `${q.id} (${q.score}/${q.max}): ${q.feedback}`)
  const scores = Object.fromEntries(r.questions.map((q) => [q.id, q.score]))
  return [...lines, JSON.stringify({ scores, scoreboard: [r.score] })].join('\n') + '\n'
}

/** The document in `format`: an object for the JSON formats, text for Autolab. */
export function formatResult (r: GradeReport, format: GradeFormat, o: FormatOptions = {}): Record<string, unknown> | string {
  switch (format) {
    case 'json': return o.problem !== undefined ? { ...r, problem: o.problem } : r as unknown as Record<string, unknown>
    case 'gradescope': return gradescopeResults(r, o)
    case 'prairielearn': return prairieLearnResults(r, o)
    case 'autolab': return autolabOutput(r)
  }
}

/** The report as text in `format` (JSON documents end with a newline). */
export function formatReport (r: GradeReport, format: GradeFormat, o: FormatOptions = {}): string {
  const doc = formatResult(r, format, o)
  return typeof doc === 'string' ? doc : JSON.stringify(doc, null, 2) + '\n'
}
