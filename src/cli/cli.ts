/**
 * rmap-sim on the command line: the engine in-process, no server, no network (PrairieLearn runs
 * graders with networking off). Generate an exercise, print its key, grade a submission in a
 * grader's format, or run a scenario file and print its end state with every rmap.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { KERNEL_VERSIONS, type KernelVersion } from '../sim/index.js'
import { GRADE_FORMATS, type GradeFormat, type Visibility } from '../grading/formats.js'
import type { FeedbackDetail } from '../grading/grade.js'
import { TOPIC_NAMES, type ExerciseSpec, type TopicName } from '../grading/exercises/index.js'
import { exerciseText, gradeCommand, keyText, runScenarioText } from './commands.js'

const USAGE = `usage:
  rmap-sim topics
  rmap-sim exercise --topic T --seed N [--kernel 2.6.11|6.18] [--difficulty 1|2|3] [--json]
  rmap-sim key      --topic T --seed N [--kernel K] [--difficulty D] [--json]
  rmap-sim grade    --topic T --seed N [--kernel K] [--difficulty D] --submission FILE
                    [--format json|gradescope|prairielearn|autolab] [--out FILE]
                    [--feedback rule|full] [--visibility visible|after_due_date|after_published|hidden]
  rmap-sim run      SCENARIO.json [--kernel K] [--json]

topics: ${TOPIC_NAMES.join(', ')}
A submission is {"answers": {"q1": ..., "q2": ...}} (see rmap-sim exercise --json for the questions).
grade writes its results even for a submission it cannot read (scored 0, the reason on stderr) and
exits 0 once they are written; --feedback full adds the expected answers (for the teacher).`

class UsageError extends Error {}

function spec (v: Record<string, string | boolean | undefined>): ExerciseSpec {
  const topic = v.topic as TopicName | undefined
  if (topic === undefined || !TOPIC_NAMES.includes(topic)) throw new UsageError(`--topic must be one of ${TOPIC_NAMES.join(', ')}`)
  const seed = typeof v.seed === 'string' && /^\s*[0-9]+\s*$/.test(v.seed) ? Number(v.seed) : NaN
  if (v.seed === undefined || !Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) throw new UsageError('--seed must be an integer from 0 to 4294967295')
  const kernel = (v.kernel ?? '2.6.11') as KernelVersion
  if (!KERNEL_VERSIONS.includes(kernel)) throw new UsageError(`--kernel must be one of ${KERNEL_VERSIONS.join(', ')}`)
  const difficulty = Number(v.difficulty ?? 1)
  if (difficulty !== 1 && difficulty !== 2 && difficulty !== 3) throw new UsageError('--difficulty must be 1, 2 or 3')
  return { topic, seed, kernel, difficulty }
}

/** Runs one command line; returns the exit code (0 ok, 1 failed, 2 usage). */
export function main (argv: string[], out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): number {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        topic: { type: 'string' },
        seed: { type: 'string' },
        kernel: { type: 'string' },
        difficulty: { type: 'string' },
        json: { type: 'boolean' },
        submission: { type: 'string' },
        format: { type: 'string' },
        out: { type: 'string' },
        feedback: { type: 'string' },
        visibility: { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      }
    })
    const [command, ...rest] = positionals
    if (values.help === true || command === undefined) { out(USAGE + '\n'); return command === undefined && values.help !== true ? 2 : 0 }
    switch (command) {
      case 'topics': out(TOPIC_NAMES.join('\n') + '\n'); return 0
      case 'exercise': out(exerciseText(spec(values), values.json === true)); return 0
      case 'key': out(keyText(spec(values), values.json === true)); return 0
      case 'grade': {
        if (values.submission === undefined) throw new UsageError('grade needs --submission FILE')
        const format = (values.format ?? 'json') as GradeFormat
        if (!GRADE_FORMATS.includes(format)) throw new UsageError(`--format must be one of ${GRADE_FORMATS.join(', ')}`)
        const detail = (values.feedback ?? 'rule') as FeedbackDetail
        if (detail !== 'rule' && detail !== 'full') throw new UsageError('--feedback must be rule or full')
        const visibility = values.visibility as Visibility | undefined
        if (visibility !== undefined && !['visible', 'after_due_date', 'after_published', 'hidden'].includes(visibility)) throw new UsageError('--visibility must be visible, after_due_date, after_published or hidden')
        const { text, problem } = gradeCommand(spec(values), values.submission, format, detail, visibility)
        if (values.out !== undefined) writeFileSync(values.out, text)
        else out(text)
        // The results are written: exit 0 (Autolab reads the last line; a failing make would add its own).
        if (problem !== undefined) err(`rmap-sim: ${problem}\n`)
        return 0
      }
      case 'run': {
        if (rest.length !== 1) throw new UsageError('run needs one scenario file')
        const kernel = values.kernel as KernelVersion | undefined
        if (kernel !== undefined && !KERNEL_VERSIONS.includes(kernel)) throw new UsageError(`--kernel must be one of ${KERNEL_VERSIONS.join(', ')}`)
        out(runScenarioText(readFileSync(rest[0], 'utf8'), kernel, values.json === true))
        return 0
      }
      default: throw new UsageError(`unknown command ${command}`)
    }
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || (e as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      err(`rmap-sim: ${(e as Error).message}\n${USAGE}\n`)
      return 2
    }
    err(`rmap-sim: ${(e as Error).message}\n`)
    return 1
  }
}
