import { z } from 'zod'
import { GRADE_FORMATS } from '../src/grading/formats.js'
import { TOPIC_NAMES } from '../src/grading/exercises/index.js'
import { OpSchema } from '../src/sim/index.js'
import { Answers } from '../src/grading/submission.js'
import { KernelVersionSchema } from './sessions.js'

/** (topic, seed, kernel, difficulty): the same spec gives the byte-identical exercise. */
export const ExerciseSpecBody = z.object({
  topic: z.enum(TOPIC_NAMES),
  seed: z.number().int().min(0).max(0xffffffff).meta({ description: 'Drives a mulberry32 stream: a seed is a contract' }),
  kernel: KernelVersionSchema.default('2.6.11'),
  difficulty: z.union([z.literal(1), z.literal(2), z.literal(3)]).default(1)
}).strict().meta({ examples: [{ topic: 'anon-walk', seed: 42, kernel: '6.18', difficulty: 2 }] })

const About = z.object({
  pid: z.number().int().optional(),
  addr: z.string().optional(),
  file: z.string().optional(),
  index: z.number().int().optional(),
  range: z.tuple([z.string(), z.string()]).optional(),
  op: OpSchema.optional(),
  choices: z.array(OpSchema).optional()
})

export const ExerciseSchema = z.object({
  id: z.string(),
  spec: z.object({ topic: z.enum(TOPIC_NAMES), seed: z.number().int(), kernel: KernelVersionSchema, difficulty: z.number().int() }),
  title: z.string(),
  setup: z.object({ ops: z.array(OpSchema) }),
  processes: z.record(z.string(), z.number().int()),
  questions: z.array(z.object({
    id: z.string(),
    kind: z.enum(['mapping-set', 'number', 'address', 'fault-path', 'number-set', 'choice', 'parts']),
    prompt: z.string(),
    choices: z.array(z.string()).optional(),
    parts: z.array(z.string()).optional(),
    points: z.number(),
    about: About
  }))
}).meta({ id: 'Exercise' })

export const AnswerKeySchema = z.object({
  id: z.string(),
  answers: z.record(z.string(), z.object({ answer: z.unknown().meta({ description: 'As the question kind says: a list of {pid, addr}, a number, an address, a fault path, a list of numbers, a choice index, or named parts' }), rule: z.string() }))
}).meta({ id: 'AnswerKey' })

export const ExerciseReply = z.object({ exercise: ExerciseSchema })
export const KeyReply = z.object({ key: AnswerKeySchema })

export const GradeBody = z.object({
  exercise: ExerciseSpecBody,
  answers: Answers.meta({ description: 'The student\'s answers by question id (q1, q2, ...): strings up to 256 characters, lists up to 64 items' }),
  feedback: z.enum(['rule', 'full']).default('rule').meta({ description: 'rule (default): what was wrong and the kernel rule, never the expected values; full: with them (for the teacher)' }),
  visibility: z.enum(['hidden', 'after_due_date', 'after_published', 'visible']).default('visible').meta({ description: 'Gradescope visibility of the results' }),
  format: z.enum(GRADE_FORMATS).default('json').meta({ description: 'json (rmap-sim\'s report), gradescope or prairielearn (their results.json), autolab (the output whose last line is the scores)' })
}).strict()

const Diff = z.object({ field: z.string(), expected: z.unknown(), actual: z.unknown(), ok: z.boolean() })
export const GradeReportSchema = z.object({
  exerciseId: z.string(),
  score: z.number(),
  maxScore: z.number(),
  questions: z.array(z.object({
    id: z.string(), prompt: z.string(), score: z.number(), max: z.number(), correct: z.boolean(), expected: z.unknown().optional(), given: z.unknown(), feedback: z.string(), diffs: z.array(Diff).optional()
  }))
})

export const GradeReply = z.object({
  format: z.enum(GRADE_FORMATS),
  report: GradeReportSchema,
  /** The document in the requested format: an object for json, gradescope and prairielearn, text for autolab. */
  result: z.union([z.record(z.string(), z.unknown()), z.string()])
}).meta({ id: 'GradeReply' })
