import { z } from 'zod'

/**
 * What a submission may hold, bounded so that no answer can make grading slow or its reports huge:
 * short strings, short lists, a few parts. The HTTP route and the CLI check submissions with it.
 */
const Scalar = z.union([z.string().max(256), z.number(), z.boolean(), z.null()])
const Parts = z.record(z.string().max(32), Scalar).refine((o) => Object.keys(o).length <= 32, 'at most 32 parts')
export const AnswerValue = z.union([Scalar, z.array(z.union([Scalar, Parts])).max(64), Parts])
export const Answers = z.record(z.string().max(16), AnswerValue).refine((o) => Object.keys(o).length <= 64, 'at most 64 answers')
export const SubmissionSchema = z.object({
  /** The exercise id the answers are for; when given, it must be the exercise graded. */
  exercise: z.string().max(128).optional(),
  answers: Answers
})

/** A number the student wrote as a number or a decimal or hex string ("12", "0x1f", " 3 "). */
export function numberValue (v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null
  if (typeof v !== 'string') return null
  const t = v.trim()
  return /^(0x[0-9a-f]+|-?[0-9]+)$/i.test(t) ? Number(t) : null
}
