/**
 * Exercises and grading in-process: every topic x both kernels x 50 seeds gives a valid exercise, the
 * same spec gives the identical exercise, the key answers every question, a correct submission scores
 * full marks and an empty one zero; hand-made wrong answers get the expected partial scores and
 * feedback naming the kernel rule. (The keys are checked against the ordinary HTTP routes in
 * test/api/exercises.test.ts.)
 */
import t from 'tap'
import { generateExercise, TOPIC_NAMES, type ExerciseSpec } from '../../src/grading/exercises/index.js'
import { gradeSubmission } from '../../src/grading/grade.js'
import { ExerciseSchema, AnswerKeySchema } from '../../schemas/exercises.js'

const KERNELS = ['2.6.11', '6.18'] as const
const SEEDS = 50

const specs = (): ExerciseSpec[] => TOPIC_NAMES.flatMap((topic) => KERNELS.flatMap((kernel) =>
  [...Array(SEEDS).keys()].map((i) => ({ topic, kernel, seed: 1000 + i, difficulty: (1 + i % 3) as 1 | 2 | 3 }))))

t.test('every topic, both kernels, 50 seeds: a valid, deterministic exercise whose key grades itself full marks', async (t) => {
  const byTopic = new Map<string, number>()
  for (const spec of specs()) {
    const g = generateExercise(spec)
    const label = g.exercise.id
    const parsed = ExerciseSchema.safeParse(g.exercise)
    if (!parsed.success) { t.fail(`${label}: ${parsed.error.message}`); continue }
    if (!AnswerKeySchema.safeParse(g.key).success) t.fail(`${label}: the key does not parse`)
    if (JSON.stringify(generateExercise(spec)) !== JSON.stringify(g)) t.fail(`${label}: not deterministic`)
    if (g.exercise.questions.length === 0) t.fail(`${label}: no question`)
    for (const q of g.exercise.questions) if (g.key.answers[q.id] === undefined) t.fail(`${label}: ${q.id} has no key`)
    const answers = Object.fromEntries(Object.entries(g.key.answers).map(([id, k]) => [id, k.answer]))
    const full = gradeSubmission(g.exercise, g.key, { answers })
    if (full.score !== full.maxScore) t.fail(`${label}: the key scores ${full.score} of ${full.maxScore}`)
    const empty = gradeSubmission(g.exercise, g.key, { answers: {} })
    if (empty.score !== 0) t.fail(`${label}: an empty submission scores ${empty.score}`)
    if (!empty.questions.every((q) => q.feedback.startsWith('no answer.') && q.feedback.length > 20)) t.fail(`${label}: empty answers get no rule`)
    byTopic.set(spec.topic, (byTopic.get(spec.topic) ?? 0) + 1)
  }
  t.same([...byTopic.values()], TOPIC_NAMES.map(() => KERNELS.length * SEEDS), `${TOPIC_NAMES.length} topics x 2 kernels x ${SEEDS} seeds`)
})

t.test('the same spec gives byte-identical exercises; another seed another one', async (t) => {
  const spec: ExerciseSpec = { topic: 'anon-walk', kernel: '2.6.11', seed: 7, difficulty: 2 }
  t.equal(JSON.stringify(generateExercise(spec)), JSON.stringify(generateExercise({ ...spec })))
  t.not(JSON.stringify(generateExercise(spec).exercise), JSON.stringify(generateExercise({ ...spec, seed: 8 }).exercise))
  t.not(JSON.stringify(generateExercise(spec).exercise.setup), JSON.stringify(generateExercise({ ...spec, kernel: '6.18' }).exercise.setup.ops.length === 0 ? null : generateExercise({ ...spec, seed: 9 }).exercise.setup))
})

t.test('a question is not read off the setup: mapping sets need the walk (several processes, COW)', async (t) => {
  let multi = 0
  for (let seed = 1; seed <= 30; seed++) {
    const g = generateExercise({ topic: 'anon-walk', kernel: '6.18', seed, difficulty: 2 })
    const set = g.key.answers.q1.answer as unknown[]
    if (set.length >= 2) multi++
    t.ok(g.exercise.setup.ops.filter((o) => o.op === 'fork').length >= 2, `seed ${seed}: at least two forks`)
  }
  t.ok(multi >= 10, `${multi} of 30 pages are mapped by several processes`)
})

t.test('partial credit and feedback', async (t) => {
  const g = generateExercise({ topic: 'anon-walk', kernel: '2.6.11', seed: 7, difficulty: 2 })
  const set = g.key.answers.q1.answer as Array<{ pid: number, addr: string }>
  t.ok(set.length >= 2, 'a page several processes map')
  const half = set.slice(0, Math.ceil(set.length / 2))
  const r = gradeSubmission(g.exercise, g.key, { answers: { q1: half, q2: -1, q3: g.key.answers.q3.answer } })
  const q1 = r.questions[0]
  t.equal(q1.score, Math.round(4 * half.length / set.length * 1000) / 1000, 'a mapping set scores by element')
  t.match(q1.feedback, /@0x[0-9a-f]+ is missing/, 'the feedback names the missing mappings')
  t.match(q1.feedback, /anon_vma->head/, 'and the 2.6.11 rule')
  t.equal(r.questions[1].score, 0)
  t.match(r.questions[1].feedback, /expected \d+, got -1/)
  t.equal(r.questions[2].score, r.questions[2].max)
  const extra = gradeSubmission(g.exercise, g.key, { answers: { q1: [...set, { pid: 99, addr: '0x10000000' }] } })
  t.equal(extra.questions[0].score, Math.round(4 * (set.length - 1) / set.length * 1000) / 1000, 'an unexpected mapping takes one element back')
  t.match(extra.questions[0].feedback, /99@0x10000000 is listed but is not one/)
  const numeric = gradeSubmission(g.exercise, g.key, { answers: { q1: set.map((m) => ({ pid: m.pid, addr: Number(m.addr) })) } })
  t.equal(numeric.questions[0].score, 4, 'addresses as numbers are accepted')

  const sp = generateExercise({ topic: 'struct-page', kernel: '2.6.11', seed: 3, difficulty: 1 })
  const parts = sp.key.answers.q1.answer as Record<string, number>
  const off = gradeSubmission(sp.exercise, sp.key, { answers: { q1: { ...parts, _count: parts._count + 1 } } })
  t.equal(off.questions[0].score, 3, 'parts: 3 of 4 right')
  t.match(off.questions[0].feedback, /q1\._count: expected .* 2\.6\.11 stores _count biased by -1/)

  const fc = generateExercise({ topic: 'fork-cow', kernel: '6.18', seed: 5, difficulty: 1 })
  const wrong = gradeSubmission(fc.exercise, fc.key, { answers: { q2: (fc.key.answers.q2.answer as number) + 1 } })
  t.match(wrong.questions[1].feedback, /vma_needs_copy/, '6.18: the rule of fork copying')
  const path = fc.key.answers.q1.answer as string
  t.equal(gradeSubmission(fc.exercise, fc.key, { answers: { q1: ` ${path.toUpperCase()} ` } }).questions[0].score, 3, 'a fault path is read case-blind')

  const inv = generateExercise({ topic: 'inverse', kernel: '6.18', seed: 11, difficulty: 2 })
  t.ok((inv.exercise.questions[0].choices?.length ?? 0) >= 2, 'an inverse question has choices')
  t.equal(gradeSubmission(inv.exercise, inv.key, { answers: { q1: ((inv.key.answers.q1.answer as number) + 1) % (inv.exercise.questions[0].choices?.length ?? 1) } }).score, 0)
  t.throws(() => gradeSubmission(inv.exercise, fc.key, { answers: {} }), /the key is for/)
})
