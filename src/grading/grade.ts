import { diffMembers, diffValue, type FieldDiff } from './compare.js'
import type { AnswerKey, Exercise, MappingAnswer, Question } from './exercises/types.js'

/** A student's answers, by question id. */
export interface Submission { answers: Record<string, unknown> }

export interface QuestionGrade {
  id: string
  prompt: string
  score: number
  max: number
  correct: boolean
  expected: unknown
  given: unknown
  /** What was wrong and the kernel rule that decides it (or "correct"). */
  feedback: string
  /** The element-by-element or part-by-part comparison behind the score (the /compare diffs). */
  diffs: FieldDiff[]
}

export interface GradeReport {
  exerciseId: string
  score: number
  maxScore: number
  questions: QuestionGrade[]
}

const round = (x: number): number => Math.round(x * 1000) / 1000

/** An address the student wrote as a hex string or a number. */
function addressValue (v: unknown): number | null {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v
  if (typeof v === 'string' && /^(0x[0-9a-f]+|[0-9]+)$/i.test(v.trim())) return Number(v.trim())
  return null
}

const mappingKey = (m: unknown): string | null => {
  if (m === null || typeof m !== 'object') return null
  const { pid, addr } = m as Partial<MappingAnswer>
  const a = addressValue(addr)
  return typeof pid === 'number' && a !== null ? `${pid}@0x${a.toString(16)}` : null
}

/**
 * Grades one question: sets by element (each expected element found scores, each unexpected one
 * takes one back, never below 0), parts by part, everything else all or nothing.
 */
function gradeQuestion (q: Question, expected: unknown, rule: string, given: unknown): QuestionGrade {
  let diffs: FieldDiff[]
  let fraction: number
  if (given === undefined || given === null) {
    diffs = [{ field: q.id, expected, actual: null, ok: false }]
    fraction = 0
  } else if (q.kind === 'mapping-set' || q.kind === 'number-set') {
    const want = q.kind === 'mapping-set' ? (expected as MappingAnswer[]).map(mappingKey) as string[] : (expected as number[]).map(String)
    const got = Array.isArray(given) ? given.map((g) => q.kind === 'mapping-set' ? mappingKey(g) ?? `invalid ${JSON.stringify(g)}` : String(g)) : [`invalid ${JSON.stringify(given)}`]
    diffs = diffMembers(q.id, want, [...new Set(got)], q.kind === 'mapping-set' ? 'mapped' : 'listed')
    const hits = diffs.filter((d) => d.ok).length
    const extras = diffs.filter((d) => d.expected === 'absent').length
    fraction = want.length === 0 ? (extras === 0 ? 1 : 0) : Math.max(0, hits - extras) / want.length
  } else if (q.kind === 'parts') {
    const want = expected as Record<string, number | null>
    const got = (given !== null && typeof given === 'object' ? given : {}) as Record<string, unknown>
    diffs = Object.keys(want).map((part) => diffValue(`${q.id}.${part}`, want[part], typeof got[part] === 'string' ? addressValue(got[part]) : got[part]))
    fraction = diffs.filter((d) => d.ok).length / diffs.length
  } else if (q.kind === 'address') {
    const d = diffValue(q.id, addressValue(expected), addressValue(given))
    diffs = [{ ...d, expected, actual: given }]
    fraction = d.ok ? 1 : 0
  } else {
    const norm = (v: unknown): unknown => q.kind === 'fault-path' && typeof v === 'string' ? v.trim().toLowerCase() : v
    diffs = [diffValue(q.id, norm(expected), norm(given))]
    fraction = diffs[0].ok ? 1 : 0
  }
  const score = round(q.points * fraction)
  const correct = score === q.points
  const element = (field: string): string => field.slice(field.indexOf('[') + 1, -1)
  const wrong = diffs.filter((d) => !d.ok).map((d) => d.expected === 'absent'
    ? `${element(d.field)} is listed but is not one`
    : d.actual === 'missing'
      ? `${element(d.field)} is missing`
      : `${d.field}: expected ${JSON.stringify(d.expected)}, got ${JSON.stringify(d.actual)}`)
  const feedback = correct
    ? 'correct'
    : given === undefined || given === null
      ? `no answer. ${rule}`
      : `${wrong.join('; ')}. ${rule}`
  return { id: q.id, prompt: q.prompt, score, max: q.points, correct, expected, given: given ?? null, feedback, diffs }
}

/** Grades a submission against the exercise's key. */
export function gradeSubmission (exercise: Exercise, key: AnswerKey, submission: Submission): GradeReport {
  if (key.id !== exercise.id) throw new Error(`the key is for ${key.id}, the exercise is ${exercise.id}`)
  const questions = exercise.questions.map((q) => {
    const k = key.answers[q.id]
    return gradeQuestion(q, k.answer, k.rule, submission.answers[q.id])
  })
  return {
    exerciseId: exercise.id,
    score: round(questions.reduce((n, q) => n + q.score, 0)),
    maxScore: questions.reduce((n, q) => n + q.max, 0),
    questions
  }
}
