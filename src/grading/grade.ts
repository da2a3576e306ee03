import { diffMembers, diffValue, type FieldDiff } from './compare.js'
import type { AnswerKey, Exercise, Question } from './exercises/types.js'
import { numberValue } from './submission.js'

/** A student's answers, by question id (checked against SubmissionSchema first). */
export interface Submission { exercise?: string, answers: Record<string, unknown> }

/**
 * How much the feedback tells: `rule` (what a student sees: what kind of thing was wrong and the
 * kernel rule, never the expected values) or `full` (with them, for the teacher).
 */
export type FeedbackDetail = 'rule' | 'full'

export interface QuestionGrade {
  id: string
  prompt: string
  score: number
  max: number
  correct: boolean
  /** Only with `full` feedback. */
  expected?: unknown
  given: unknown
  /** What was wrong and the kernel rule that decides it (or "correct"). */
  feedback: string
  /** The element-by-element or part-by-part comparison behind the score (the /compare diffs; `full` only). */
  diffs?: FieldDiff[]
}

export interface GradeReport {
  exerciseId: string
  score: number
  maxScore: number
  questions: QuestionGrade[]
}

const round = (x: number): number => Math.round(x * 1000) / 1000
/** Feedback lists at most this many wrong elements or parts. */
const MAX_CLAUSES = 5

const mappingKey = (m: unknown): string | null => {
  if (m === null || typeof m !== 'object') return null
  const { pid, addr } = m as Record<string, unknown>
  const p = numberValue(pid)
  const a = numberValue(addr)
  return p !== null && a !== null ? `${p}@0x${a.toString(16)}` : null
}

const element = (field: string): string => field.slice(field.indexOf('[') + 1, -1)

/** The wrong diffs as short clauses, at most MAX_CLAUSES of them. */
function clauses (wrong: FieldDiff[], full: boolean, q: Question): string {
  const say = (d: FieldDiff): string => d.expected === 'absent'
    ? `${element(d.field)} is listed but is not one`
    : d.actual === 'missing'
      ? (full ? `${element(d.field)} is missing` : 'an element is missing')
      : full ? `${d.field}: expected ${JSON.stringify(d.expected)}, got ${JSON.stringify(d.actual)}` : q.kind === 'parts' ? `${d.field.slice(q.id.length + 1)} is wrong` : 'the answer is wrong'
  const texts = [...new Set(wrong.map(say))]
  return texts.length <= MAX_CLAUSES ? texts.join('; ') : `${texts.slice(0, MAX_CLAUSES).join('; ')}; and ${texts.length - MAX_CLAUSES} more`
}

/**
 * Grades one question: sets by element (each expected element found scores, each unexpected one
 * takes one back, never below 0), parts by part, everything else all or nothing. Numbers may be
 * written as numbers or decimal or hex strings; fault paths case-blind.
 */
function gradeQuestion (q: Question, expected: unknown, rule: string, given: unknown, detail: FeedbackDetail): QuestionGrade {
  let diffs: FieldDiff[]
  let fraction: number
  let summary = ''
  if (given === undefined || given === null) {
    diffs = [{ field: q.id, expected, actual: null, ok: false }]
    fraction = 0
  } else if (q.kind === 'mapping-set' || q.kind === 'number-set') {
    const key = (v: unknown): string | null => q.kind === 'mapping-set' ? mappingKey(v) : (numberValue(v) === null ? null : String(numberValue(v)))
    const want = (expected as unknown[]).map((v) => key(v) as string)
    const got = Array.isArray(given) ? given.map((g) => key(g) ?? `invalid ${JSON.stringify(g).slice(0, 40)}`) : [`invalid ${JSON.stringify(given).slice(0, 40)}`]
    diffs = diffMembers(q.id, want, [...new Set(got)], q.kind === 'mapping-set' ? 'mapped' : 'listed')
    const hits = diffs.filter((d) => d.ok).length
    const extras = diffs.filter((d) => d.expected === 'absent').length
    fraction = want.length === 0 ? (extras === 0 ? 1 : 0) : Math.max(0, hits - extras) / want.length
    summary = `${hits} of ${want.length} right${extras > 0 ? `, ${extras} listed wrongly` : ''}`
  } else if (q.kind === 'parts') {
    const want = expected as Record<string, number | null>
    const got = (given !== null && typeof given === 'object' && !Array.isArray(given) ? given : {}) as Record<string, unknown>
    diffs = Object.keys(want).map((part) => diffValue(`${q.id}.${part}`, want[part], got[part] === null ? null : numberValue(got[part])))
    fraction = diffs.filter((d) => d.ok).length / diffs.length
    summary = `${diffs.filter((d) => d.ok).length} of ${diffs.length} parts right`
  } else if (q.kind === 'address') {
    const d = diffValue(q.id, numberValue(expected), numberValue(given))
    diffs = [{ ...d, expected, actual: given }]
    fraction = d.ok ? 1 : 0
  } else if (q.kind === 'fault-path') {
    const norm = (v: unknown): unknown => typeof v === 'string' ? v.trim().toLowerCase() : v
    diffs = [diffValue(q.id, norm(expected), norm(given))]
    fraction = diffs[0].ok ? 1 : 0
  } else {
    diffs = [diffValue(q.id, expected, numberValue(given))]
    fraction = diffs[0].ok ? 1 : 0
  }
  const score = round(q.points * fraction)
  const correct = score === q.points
  const full = detail === 'full'
  const wrong = diffs.filter((d) => !d.ok)
  const feedback = correct
    ? 'correct'
    : given === undefined || given === null
      ? `no answer. ${rule}`
      : `${summary !== '' ? summary + ': ' : ''}${clauses(wrong, full, q)}. ${rule}`
  return {
    id: q.id,
    prompt: q.prompt,
    score,
    max: q.points,
    correct,
    given: given ?? null,
    feedback,
    ...(full ? { expected, diffs } : {})
  }
}

/** Grades a submission against the exercise's key. */
export function gradeSubmission (exercise: Exercise, key: AnswerKey, submission: Submission, detail: FeedbackDetail = 'full'): GradeReport {
  if (key.id !== exercise.id) throw new Error(`the key is for ${key.id}, the exercise is ${exercise.id}`)
  const questions = exercise.questions.map((q) => {
    const k = key.answers[q.id]
    return gradeQuestion(q, k.answer, k.rule, submission.answers[q.id], detail)
  })
  return {
    exerciseId: exercise.id,
    score: round(questions.reduce((n, q) => n + q.score, 0)),
    maxScore: questions.reduce((n, q) => n + q.max, 0),
    questions
  }
}
