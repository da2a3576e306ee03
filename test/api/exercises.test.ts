/**
 * The exercise routes: generate (anyone), the key and grading (the admin token only: a student's
 * session token is not enough), a session prepared with the setup, every grader format.
 */
import t from 'tap'
import { buildTestApp, call } from '../helper.js'
import { expectError, expectValidation, ok } from './api-helpers.js'
import { generateExercise } from '../../src/grading/exercises/index.js'

const ADMIN = 'exercise-test-admin-token'
const admin = { authorization: `Bearer ${ADMIN}` }
const spec = { topic: 'fork-cow', seed: 12, kernel: '6.18', difficulty: 2 } as const

t.test('POST /v1/exercises: the exercise without its key, the same as the library and the CLI', async (t) => {
  const app = await buildTestApp(t, { ADMIN_TOKEN: ADMIN })
  const body = ok(t, await app.inject({ method: 'POST', url: '/v1/exercises', payload: spec }))
  t.same(body.exercise, generateExercise(spec).exercise)
  t.notOk(JSON.stringify(body).includes('vma_needs_copy'), 'no rule, no answer')
  const def = ok(t, await app.inject({ method: 'POST', url: '/v1/exercises', payload: { topic: 'swap', seed: 3 } }))
  t.equal(def.exercise.id, 'swap/2.6.11/d1/s3/v1', 'kernel 2.6.11 and difficulty 1 by default (generator version 1)')
  expectValidation(t, await app.inject({ method: 'POST', url: '/v1/exercises', payload: { ...spec, difficulty: 4 } }), ['body.difficulty'])
  expectValidation(t, await app.inject({ method: 'POST', url: '/v1/exercises', payload: { ...spec, seed: -1 } }), ['body.seed'])
  expectValidation(t, await app.inject({ method: 'POST', url: '/v1/exercises', payload: { ...spec, extra: 1 } }), ['body'])
})

t.test('the key and grading need the admin token; a session token is refused', async (t) => {
  const app = await buildTestApp(t, { ADMIN_TOKEN: ADMIN })
  const opened = ok(t, await app.inject({ method: 'POST', url: '/v1/exercises/session', payload: spec }), 201)
  const student = { authorization: `Bearer ${opened.session.token as string}` }
  expectError(t, await app.inject({ method: 'POST', url: '/v1/exercises/key', headers: student, payload: spec }), 401, 'unauthorized', 'the student\'s token')
  expectError(t, await app.inject({ method: 'POST', url: '/v1/exercises/key', payload: spec }), 401, 'unauthorized', 'no token')
  expectError(t, await app.inject({ method: 'POST', url: '/v1/exercises/grade', headers: student, payload: { exercise: spec, answers: {} } }), 401, 'unauthorized')
  const key = ok(t, await app.inject({ method: 'POST', url: '/v1/exercises/key', headers: admin, payload: spec }))
  t.same(key.key, generateExercise(spec).key)
  const none = await buildTestApp(t)
  expectError(t, await none.inject({ method: 'POST', url: '/v1/exercises/key', headers: admin, payload: spec }), 403, 'forbidden', 'no ADMIN_TOKEN configured')
})

t.test('POST /v1/exercises/session: a session of the exercise\'s kernel with the setup applied', async (t) => {
  const app = await buildTestApp(t, { ADMIN_TOKEN: ADMIN })
  const opened = ok(t, await app.inject({ method: 'POST', url: '/v1/exercises/session', payload: spec }), 201)
  t.equal(opened.session.kernel, '6.18')
  t.same(opened.exercise, generateExercise(spec).exercise)
  const s = { id: opened.session.id, token: opened.session.token, base: `/v1/sessions/${opened.session.id as string}`, headers: { authorization: `Bearer ${opened.session.token as string}` } }
  const journal = ok(t, await call(app, s, 'GET', '/journal'))
  t.equal(journal.ops.length, opened.exercise.setup.ops.length, 'every setup op applied')
  const procs = ok(t, await call(app, s, 'GET', '/processes'))
  t.same(Object.fromEntries(procs.processes.map((p: { name: string, pid: number }) => [p.name, p.pid])), Object.fromEntries(Object.entries(opened.exercise.processes).filter(([n]) => procs.processes.some((p: { name: string }) => p.name === n))))
})

t.test('POST /v1/exercises/grade: scores, partial credit, feedback and every format', async (t) => {
  const app = await buildTestApp(t, { ADMIN_TOKEN: ADMIN })
  const { key } = generateExercise(spec)
  const right = Object.fromEntries(Object.entries(key.answers).map(([id, k]) => [id, k.answer]))
  const grade = async (answers: Record<string, unknown>, format?: string, feedback?: string): Promise<any> =>
    ok(t, await app.inject({ method: 'POST', url: '/v1/exercises/grade', headers: admin, payload: { exercise: spec, answers, format, feedback } }))
  const full = await grade(right)
  t.equal(full.format, 'json')
  t.equal(full.report.score, full.report.maxScore)
  t.same(full.result, full.report)
  const half = await grade({ q1: right.q1, q2: 99 }, 'json', 'full')
  t.equal(half.report.score, 3)
  t.match(half.report.questions[1].feedback, /expected \d+, got 99\. 6\.18 .*vma_needs_copy/)
  const student = await grade({ q1: right.q1, q2: 99 })
  t.match(student.report.questions[1].feedback, /^the answer is wrong\. 6\.18 .*vma_needs_copy/, 'by default the feedback names the rule, not the expected value')
  t.notOk('expected' in student.report.questions[1], 'and the report leaves the expected answers out')
  expectValidation(t, await app.inject({ method: 'POST', url: '/v1/exercises/grade', headers: admin, payload: { exercise: spec, answers: { q1: [...Array(65).keys()] } } }), ['body.answers.q1'])
  expectValidation(t, await app.inject({ method: 'POST', url: '/v1/exercises/grade', headers: admin, payload: { exercise: spec, answers: { q1: 'x'.repeat(257) } } }), ['body.answers.q1'])
  const gs = await grade(right, 'gradescope')
  t.equal(gs.result.score, 7)
  t.equal(gs.result.tests.length, 3)
  const pl = await grade({}, 'prairielearn')
  t.same([pl.result.score, pl.result.gradable], [0, true])
  const al = await grade(right, 'autolab')
  t.match(al.result, /\{"scores":\{"q1":3,"q2":2,"q3":2\},"scoreboard":\[7\]\}\n$/)
  expectValidation(t, await app.inject({ method: 'POST', url: '/v1/exercises/grade', headers: admin, payload: { exercise: spec, answers: {}, format: 'canvas' } }), ['body.format'])
})
