import t from 'tap'
import { Simulator, applyBatch, applyOp, compareTruth, runScenario, truthOf, type Op, type Scenario } from '../../../src/sim/index.js'
import { A, B, MODELS_UNDER_TEST, PAGE, clean, fingerprint, stateOf } from './fixtures/helpers.js'

const clone = (s: Simulator) => () => Simulator.fromSnapshot(s.snapshot())

for (const kernel of MODELS_UNDER_TEST) {
  t.test(`[${kernel}] applyOp: every op of the vocabulary, processes named by proc`, async (t) => {
    const s = new Simulator({ version: kernel })
    const probes = new Map<string, number | null>()
    const ops: Op[] = [
      { op: 'createFile', name: 'f', pages: 4 },
      { op: 'spawn', proc: 'p' },
      { op: 'mmap', proc: 'p', addr: '0x10000000', pages: 4, kind: 'anon' },
      { op: 'mmap', proc: 'p', addr: B, pages: 4, kind: 'file', file: 'f', shared: true },
      { op: 'write', proc: 'p', addr: '0x10000000' },
      { op: 'read', proc: 'p', addr: B },
      { op: 'mmap', proc: 'p', addr: '0x40000000', pages: 1, kind: 'file', file: 'f', prot: 'rx' },
      { op: 'exec', proc: 'p', addr: 0x40000000 },
      { op: 'fork', proc: 'p', child: 'c' },
      { op: 'mprotect', proc: 'c', addr: A, pages: 1, prot: 'r' },
      { op: 'mremap', proc: 'c', addr: A + 2 * PAGE, pages: 1, newPages: 1, newAddr: '0x30000000' },
      { op: 'madvise', proc: 'c', addr: A + 3 * PAGE, pages: 1, advice: 'dontneed' },
      { op: 'dontneed', proc: 'c', addr: A + PAGE, pages: 1 },
      { op: 'munmap', proc: 'c', addr: B, pages: 1 },
      { op: 'probe', proc: 'p', addr: A, as: 'pa' },
      { op: 'probe', proc: 'c', addr: A, as: 'ca' },
      { op: 'exit', proc: 'c' }
    ]
    for (const op of ops) applyOp(s, op, probes)
    t.equal(probes.get('pa'), probes.get('ca'), 'parent and child share the page')
    const pfn = probes.get('pa') as number
    t.equal((applyOp(s, { op: 'referenced', pfn }) as { ptes: number }).ptes, 1, 'only the parent maps it after the child exited')
    // page_mkclean (2.6.19) and migration (2.6.16) are 6.18's; 2.6.11 writes back without them.
    if (kernel === '6.18') t.equal((applyOp(s, { op: 'mkclean', pfn }) as { cleaned: number }).cleaned, 0)
    t.ok(applyOp(s, { op: 'writeback', file: 'f' }))
    const moved = kernel === '6.18' ? (applyOp(s, { op: 'migrate', pfn }) as { newPfn: number }).newPfn : pfn
    const u = applyOp(s, { op: 'unmap', pfn: moved }) as { unmapped: number }
    t.equal(u.unmapped <= 1, true)
    t.ok(applyOp(s, { op: 'evict', file: 'f' }))
    t.equal(applyOp(s, { op: 'spawn', name: 'q' }) !== null, true)
    t.equal(s.pidOf('q'), 3)
    t.throws(() => applyOp(s, { op: 'read', addr: A }), { code: 'invalid_argument' }, 'no process named')
    t.throws(() => applyOp(s, { op: 'read', proc: 'p', addr: 'zzz' }), { code: 'invalid_argument' }, 'bad address string')
    t.throws(() => applyOp(s, { op: 'mmap', proc: 'p', pages: 1, kind: 'file' }), { code: 'invalid_argument' }, 'file mapping without a file')
    t.throws(() => applyOp(s, { op: 'bogus' } as unknown as Op), { code: 'invalid_argument' }, 'unknown op')
    t.throws(() => applyOp(s, { op: 'write', proc: 'p', addr: 0x50000000 }), /SIGSEGV/, 'a signal fails the op')
    clean(t, s)
    // The journal replays to the same state.
    const replay = new Simulator({ version: kernel })
    for (const op of s.journal) applyOp(replay, op)
    t.equal(stateOf(replay), stateOf(s), 'journal replay gives the same state')
  })

  t.test(`[${kernel}] applyBatch (atomic): one failing op means nothing is applied`, async (t) => {
    const s = new Simulator({ version: kernel })
    s.spawn({ name: 'p' })
    const before = fingerprint(s)
    const r = applyBatch(s, [
      { op: 'mmap', proc: 'p', addr: A, pages: 1 },
      { op: 'write', proc: 'p', addr: A },
      { op: 'write', proc: 'p', addr: B }
    ], 'atomic', clone(s))
    t.equal(r.applied, false)
    t.equal(r.failed, 1)
    t.equal(r.firstFailure?.index, 2)
    t.equal(r.firstFailure?.error?.code, 'segfault')
    t.equal(fingerprint(s), before, 'state untouched')
    const ok = applyBatch(s, [
      { op: 'mmap', proc: 'p', addr: A, pages: 1 },
      { op: 'write', proc: 'p', addr: A },
      { op: 'probe', proc: 'p', addr: A, as: 'x' },
      { op: 'probe', proc: 'p', addr: B, as: 'none' }
    ], 'atomic', clone(s))
    t.equal(ok.applied, true)
    t.equal(ok.failed, 0)
    t.same(ok.probes.unmapped, ['none'])
    t.same(ok.probes.same, [['x']])
    clean(t, s)
  })

  t.test(`[${kernel}] applyBatch (continue): failures are reported per op and leave no trace`, async (t) => {
    const s = new Simulator({ version: kernel })
    s.createFile({ name: 'f', pages: 1 })
    s.spawn({ name: 'p' })
    const r = applyBatch(s, [
      { op: 'mmap', proc: 'p', addr: A, pages: 1, kind: 'file', file: 'f' },
      { op: 'write', proc: 'p', addr: A + 0x1000000 },
      { op: 'mmap', proc: 'p', addr: A, pages: 1 },
      { op: 'read', proc: 'p', addr: A },
      { op: 'mmap', proc: 'p', addr: B, pages: 2, kind: 'file', file: 'f' },
      { op: 'read', proc: 'p', addr: B + PAGE }
    ], 'continue', clone(s))
    t.equal(r.applied, true)
    t.same(r.results.map((x) => x.ok), [true, false, false, true, true, false])
    t.same(r.results.filter((x) => !x.ok).map((x) => x.error?.code), ['segfault', 'conflict', 'bus_error'])
    t.equal(r.failed, 3)
    clean(t, s)
  })

  t.test(`[${kernel}] runScenario / truthOf / compareTruth: a run matches its own truth and a changed truth is reported`, async (t) => {
    const scen: Scenario = {
      files: { f: { pages: 2 } },
      ops: [
        { op: 'spawn', proc: 'a' },
        { op: 'mmap', proc: 'a', addr: '0x10000000', pages: 2, kind: 'anon' },
        { op: 'mmap', proc: 'a', addr: '0x20000000', pages: 2, kind: 'file', file: 'f' },
        { op: 'write', proc: 'a', addr: '0x10000000' },
        { op: 'read', proc: 'a', addr: '0x10001000' },
        { op: 'read', proc: 'a', addr: '0x20000000' },
        { op: 'fork', proc: 'a', child: 'b' },
        { op: 'write', proc: 'b', addr: '0x10000000' },
        { op: 'mprotect', proc: 'b', addr: '0x10001000', pages: 1, prot: 'r' },
        { op: 'dontneed', proc: 'a', addr: '0x10001000', pages: 1 },
        { op: 'probe', proc: 'a', addr: '0x20000000', as: 'fa' },
        { op: 'probe', proc: 'b', addr: '0x20000000', as: 'fb' },
        { op: 'probe', proc: 'a', addr: '0x10001000', as: 'gone' },
        { op: 'mremap', proc: 'b', addr: '0x10000000', pages: 1, newAddr: '0x30000000', newPages: 1 },
        { op: 'munmap', proc: 'b', addr: '0x30000000', pages: 1 },
        { op: 'spawn', proc: 'c' },
        { op: 'exit', proc: 'c' }
      ]
    }
    const s = new Simulator({ version: kernel })
    const { order, probes } = runScenario(s, scen)
    t.same(order, ['a', 'b'])
    const truth = truthOf(s, order, probes)
    t.same(compareTruth(truth, truth), [])
    t.same(truth.probes.unmapped, kernel === '6.18' ? ['fb', 'gone'] : ['gone'], '6.18 does not copy the read-only file PTE at fork')
    const counted = JSON.parse(JSON.stringify(truth)) as typeof truth
    const anonFrame = counted.frames.find((f) => f.kind === 'anon')
    if (anonFrame === undefined) throw new Error('no anonymous frame')
    anonFrame.mapcount += 1
    t.ok(compareTruth(counted, truth).some((d) => d.includes('mapcount')), 'mapcount difference')
    anonFrame.kind = 'file'
    t.ok(compareTruth(counted, truth).some((d) => d.includes('kind')), 'kind difference')
    const changed = JSON.parse(JSON.stringify(truth)) as typeof truth
    changed.processes.push('zombie')
    changed.probes.unmapped = []
    const firstProc = Object.keys(changed.ptes)[0]
    const firstAddr = Object.keys(changed.ptes[firstProc])[0]
    delete changed.ptes[firstProc][firstAddr]
    changed.ptes[firstProc]['0x7000'] = 'F0'
    const diffs = compareTruth(changed, truth)
    t.ok(diffs.some((d) => d.includes('live processes')), 'process list difference')
    t.ok(diffs.some((d) => d.includes('probes')), 'probe difference')
    t.ok(diffs.some((d) => d.includes('unexpected PTE')), 'extra PTE')
    t.ok(diffs.some((d) => d.includes('PTE missing')), 'missing PTE')
    t.throws(() => runScenario(new Simulator({ version: kernel }), { ops: [{ op: 'spawn', proc: 'x' }, { op: 'read', proc: 'x', addr: '0x1000' }] }), /op 1 \(read\)/, 'a signal aborts the scenario, naming the op')
    t.throws(() => runScenario(new Simulator({ version: kernel }), { ops: [{ op: 'nope' } as unknown as Scenario['ops'][number]] }), /unknown scenario op/)
    t.throws(() => runScenario(new Simulator({ version: kernel }), { ops: [{ op: 'spawn', proc: 'x' }, { op: 'read', proc: 'x', addr: 'zz' }] }), /not an address/)
    clean(t, s)
  })
}
