/**
 * The rmap-sim command as a real child process (node running src/cli/main.ts through tsx, as the
 * installed bin runs dist/src/cli/main.js): exit codes, stdout, the results files graders read.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { generateExercise } from '../../src/grading/exercises/index.js'

const run = promisify(execFile)
const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts')

async function cli (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  try {
    const r = await run(process.execPath, ['--import', 'tsx', MAIN, ...args], { timeout: 30_000, env: { ...process.env, NODE_OPTIONS: '' } })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (e) {
    const err = e as { code?: number, stdout: string, stderr: string }
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout, stderr: err.stderr }
  }
}

const dir = mkdtempSync(join(tmpdir(), 'rmap-cli-'))
const SPEC = ['--topic', 'anon-walk', '--seed', '7', '--kernel', '2.6.11', '--difficulty', '2']

t.test('exercise and key: the same as the library, text and JSON', async (t) => {
  const g = generateExercise({ topic: 'anon-walk', seed: 7, kernel: '2.6.11', difficulty: 2 })
  const json = await cli('exercise', ...SPEC, '--json')
  t.equal(json.code, 0)
  t.same(JSON.parse(json.stdout), g.exercise, 'the exercise')
  const text = await cli('exercise', ...SPEC)
  t.match(text.stdout, /The rmap walk of an anonymous page \(2\.6\.11\)/)
  t.match(text.stdout, /q1 \(4 points, answer: mapping-set\)/)
  t.notMatch(text.stdout, /anon_vma->head/, 'no rule (no answer) in the student\'s text')
  const key = await cli('key', ...SPEC, '--json')
  t.same(JSON.parse(key.stdout), g.key)
  t.match((await cli('key', ...SPEC)).stdout, /anon_vma->head/)
  t.same((await cli('topics')).stdout.trim().split('\n').length, 8)
})

t.test('grade: every format, written to a file; a full submission scores full marks', async (t) => {
  const g = generateExercise({ topic: 'anon-walk', seed: 7, kernel: '2.6.11', difficulty: 2 })
  const full = join(dir, 'full.json')
  writeFileSync(full, JSON.stringify({ answers: Object.fromEntries(Object.entries(g.key.answers).map(([id, k]) => [id, k.answer])) }))
  const gs = join(dir, 'results.json')
  const r = await cli('grade', ...SPEC, '--submission', full, '--format', 'gradescope', '--out', gs)
  t.equal(r.code, 0)
  const doc = JSON.parse(readFileSync(gs, 'utf8'))
  t.equal(doc.score, 8)
  t.equal(doc.tests.length, 3)
  const pl = JSON.parse((await cli('grade', ...SPEC, '--submission', full, '--format', 'prairielearn')).stdout)
  t.equal(pl.score, 1)
  t.equal(pl.gradable, true)
  const al = (await cli('grade', ...SPEC, '--submission', full, '--format', 'autolab')).stdout.trim().split('\n')
  t.same(JSON.parse(al[al.length - 1]), { scores: { q1: 4, q2: 2, q3: 2 }, scoreboard: [8] }, 'Autolab: the last line')
  const own = JSON.parse((await cli('grade', ...SPEC, '--submission', full)).stdout)
  t.equal(own.score, own.maxScore)
})

t.test('grade: an unreadable, malformed or hostile submission still leaves a results file (score 0, the reason), exit 0', async (t) => {
  const bad = join(dir, 'bad.json')
  writeFileSync(bad, '{ not json')
  const out = join(dir, 'bad-results.json')
  const r = await cli('grade', ...SPEC, '--submission', bad, '--format', 'gradescope', '--out', out)
  t.equal(r.code, 0, 'the results are written: exit 0 (Autolab reads the last line)')
  t.match(r.stderr, /could not be read/)
  const doc = JSON.parse(readFileSync(out, 'utf8'))
  t.equal(doc.score, 0)
  t.match(doc.tests[0].output, /could not be read/)
  const missing = JSON.parse((await cli('grade', ...SPEC, '--submission', join(dir, 'nope.json'), '--format', 'prairielearn')).stdout)
  t.same([missing.score, missing.gradable], [0, false], 'PrairieLearn: not gradable')
  t.match(missing.format_errors[0], /could not be read/)
  // 5,000 nested arrays: JSON.parse takes it, grading it would overflow the stack.
  const deep = join(dir, 'deep.json')
  writeFileSync(deep, '{"answers":{"q2":' + '['.repeat(5000) + ']'.repeat(5000) + '}}')
  const d = await cli('grade', ...SPEC, '--submission', deep, '--format', 'autolab')
  t.equal(d.code, 0)
  t.same(JSON.parse(d.stdout.trim().split('\n').at(-1) as string), { scores: { q1: 0, q2: 0, q3: 0 }, scoreboard: [0] })
  const big = join(dir, 'big.json')
  writeFileSync(big, JSON.stringify({ answers: { q3: [...Array(20000).keys()] } }))
  const b = await cli('grade', ...SPEC, '--submission', big, '--format', 'prairielearn')
  t.ok(b.stdout.length < 20000, `a 20,000-element answer is refused, not graded (${b.stdout.length} bytes of results)`)
  const other = join(dir, 'other.json')
  writeFileSync(other, JSON.stringify({ exercise: 'anon-walk/2.6.11/d2/s8/v1', answers: {} }))
  t.match((await cli('grade', ...SPEC, '--submission', other)).stderr, /is for exercise anon-walk\/2\.6\.11\/d2\/s8\/v1, not anon-walk\/2\.6\.11\/d2\/s7\/v1/)
})

t.test('run: a scenario file, its end state and every rmap', async (t) => {
  const file = join(dir, 'scenario.json')
  writeFileSync(file, JSON.stringify({
    files: { lib: { pages: 2 } },
    ops: [
      { op: 'spawn', proc: 'P' },
      { op: 'mmap', proc: 'P', addr: '0x10000000', pages: 2, kind: 'anon' },
      { op: 'write', proc: 'P', addr: '0x10000000' },
      { op: 'fork', proc: 'P', child: 'C' },
      { op: 'read', proc: 'C', addr: '0x30000000' }
    ]
  }))
  const r = await cli('run', file, '--kernel', '6.18')
  t.equal(r.code, 0)
  t.match(r.stdout, /kernel 6\.18: 4 of 5 ops applied/)
  t.match(r.stdout, /op 4 \(read\) failed: SIGSEGV/)
  t.match(r.stdout, /PFN \d+ anon index 65536 mapcount 2: 1@0x10000000 2@0x10000000/)
  const json = JSON.parse((await cli('run', file, '--json')).stdout)
  t.equal(json.kernel, '2.6.11', 'the default kernel')
  t.same(json.frames[0].rmap, [{ pid: 1, addr: '0x10000000' }, { pid: 2, addr: '0x10000000' }])
})

t.test('usage errors: exit 2 and the usage', async (t) => {
  for (const args of [[], ['exercise', '--topic', 'nope', '--seed', '1'], ['exercise', '--topic', 'swap'], ['exercise', '--topic', 'swap', '--seed', ''], ['exercise', '--topic', 'swap', '--seed', '1', '--kernel', '3.0'], ['frobnicate'], ['exercise', '--bogus']]) {
    const r = await cli(...args)
    t.equal(r.code, 2, `${args.join(' ') || '(nothing)'}: exit 2`)
    t.match(r.stderr + r.stdout, /usage:/)
  }
  t.equal((await cli('--help')).code, 0)
})
