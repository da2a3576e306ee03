import { readFileSync } from 'node:fs'
import { ScenarioSchema, Simulator, applyOp, hex, type KernelVersion } from '../sim/index.js'
import { formatReport, type GradeFormat, type Visibility } from '../grading/formats.js'
import { gradeSubmission, type FeedbackDetail, type GradeReport, type Submission } from '../grading/grade.js'
import { SubmissionSchema } from '../grading/submission.js'
import { generateExercise, type Exercise, type ExerciseSpec } from '../grading/exercises/index.js'

/** The setup and questions as a student reads them (or the whole exercise as JSON). */
export function exerciseText (spec: ExerciseSpec, json: boolean): string {
  const { exercise } = generateExercise(spec)
  if (json) return JSON.stringify(exercise, null, 2) + '\n'
  return renderExercise(exercise)
}

export function renderExercise (e: Exercise): string {
  const lines = [`${e.title}`, `exercise ${e.id}`, '', 'Setup (in order):']
  for (const o of e.setup.ops) {
    const { op, ...rest } = o as Record<string, unknown>
    lines.push(`  ${String(op)} ${Object.entries(rest).map(([k, v]) => `${k}=${String(v)}`).join(' ')}`)
  }
  lines.push('', `Processes: ${Object.entries(e.processes).map(([n, p]) => `${n} = pid ${p}`).join(', ')}`, '')
  for (const q of e.questions) {
    lines.push(`${q.id} (${q.points} points, answer: ${q.kind}${q.parts !== undefined ? ' ' + q.parts.join(', ') : ''}): ${q.prompt}`)
    if (q.choices !== undefined) q.choices.forEach((c, i) => lines.push(`   ${i}) ${c}`))
  }
  return lines.join('\n') + '\n'
}

/** The answer key with the rule behind each answer. */
export function keyText (spec: ExerciseSpec, json: boolean): string {
  const { key } = generateExercise(spec)
  if (json) return JSON.stringify(key, null, 2) + '\n'
  const lines = [`answer key of ${key.id}`]
  for (const [id, k] of Object.entries(key.answers)) lines.push(`${id}: ${JSON.stringify(k.answer)}`, `    ${k.rule}`)
  return lines.join('\n') + '\n'
}

/**
 * Grades a submission file. A grader must always leave a results file: a submission that cannot be
 * read, or is not {"answers": {...}} within the bounds of SubmissionSchema, or is for another exercise,
 * is graded as empty and the reason goes with it (`problem`, also for stderr).
 */
export function gradeCommand (spec: ExerciseSpec, submissionFile: string, format: GradeFormat, detail: FeedbackDetail = 'rule', visibility?: Visibility): { text: string, problem?: string } {
  const { exercise, key } = generateExercise(spec)
  let submission: Submission = { answers: {} }
  let problem: string | undefined
  try {
    const parsed = SubmissionSchema.safeParse(JSON.parse(readFileSync(submissionFile, 'utf8')))
    if (!parsed.success) problem = `the submission is not {"answers": {...}} as rmap-sim grades it: ${parsed.error.issues[0]?.path.join('.') ?? ''} ${parsed.error.issues[0]?.message ?? ''}`.trim()
    else if (parsed.data.exercise !== undefined && parsed.data.exercise !== exercise.id) problem = `the submission is for exercise ${parsed.data.exercise}, not ${exercise.id}`
    else submission = parsed.data
  } catch (e) {
    problem = `the submission could not be read: ${(e as Error).message}`
  }
  let report: GradeReport
  try {
    report = gradeSubmission(exercise, key, submission, detail)
  } catch (e) {
    problem = `grading failed: ${(e as Error).message}`
    report = gradeSubmission(exercise, key, { answers: {} }, detail)
  }
  if (problem !== undefined) for (const q of report.questions) q.feedback = `${problem}. ${q.feedback}`
  return { text: formatReport(report, format, { visibility, problem }), problem }
}

/** Runs a scenario (the /ops vocabulary with its files) and prints the end state and every rmap. */
export function runScenarioText (text: string, kernel: KernelVersion | undefined, json: boolean): string {
  const scenario = ScenarioSchema.parse(JSON.parse(text))
  const sim = new Simulator({ version: kernel ?? '2.6.11' })
  for (const [name, f] of Object.entries(scenario.files ?? {}).sort(([a], [b]) => a < b ? -1 : 1)) sim.createFile({ name, pages: f.pages })
  const results = scenario.ops.map((op, i) => {
    try {
      applyOp(sim, op)
      return { index: i, op: op.op, ok: true }
    } catch (e) {
      return { index: i, op: op.op, ok: false, error: (e as Error).message }
    }
  })
  const processes = sim.processes().map((p) => ({ ...p, vmas: sim.processInfo(p.pid).vmaList.map((v) => ({ start: hex(v.start), end: hex(v.end), prot: v.prot, shared: v.shared, file: v.file, pgoff: v.pgoff })) }))
  const frames = sim.frames({ mapped: true, limit: Number.MAX_SAFE_INTEGER }).frames.filter((f) => f.kind !== 'zero').map((f) => ({
    pfn: f.pfn,
    kind: f.kind,
    mapcount: f.mapcount,
    _count: f._count,
    index: f.index,
    rmap: sim.rmap(f.pfn).mappings.map((m) => ({ pid: m.pid, addr: hex(m.addr) }))
  }))
  if (json) return JSON.stringify({ kernel: sim.version, results, processes, frames }, null, 2) + '\n'
  const lines = [`kernel ${sim.version}: ${results.filter((r) => r.ok).length} of ${results.length} ops applied`]
  for (const r of results) if (!r.ok) lines.push(`  op ${r.index} (${r.op}) failed: ${r.error ?? ''}`)
  for (const p of processes) {
    lines.push(`process ${p.pid}${p.name !== null ? ' ' + p.name : ''}:`)
    for (const v of p.vmas) lines.push(`  [${v.start}, ${v.end}) ${v.prot}${v.shared ? ' shared' : ''}${v.file !== null ? ' ' + v.file : ''} pgoff ${v.pgoff}`)
  }
  for (const f of frames) lines.push(`PFN ${f.pfn} ${f.kind} index ${f.index} mapcount ${f.mapcount}: ${f.rmap.map((m) => `${m.pid}@${m.addr}`).join(' ')}`)
  return lines.join('\n') + '\n'
}
