import t from 'tap'
import { Simulator, type KernelVersion, type Snapshot } from '../../../src/sim/index.js'
import { A, B, C, MODELS_UNDER_TEST, PAGE, clean, mustPfn, stateOf, writeAll } from './fixtures/helpers.js'

/** A state with a bit of everything: files, shmem, forks, COW, swap, protnone, split and moved VMAs. */
function busy (kernel: KernelVersion): Simulator {
  const s = new Simulator({ version: kernel })
  s.createFile({ name: 'f', pages: 8 })
  const p = s.spawn({ name: 'p' }).pid
  s.mmap({ pid: p, addr: A, pages: 8 })
  s.mmap({ pid: p, addr: B, pages: 4, file: 'f', shared: true })
  s.mmap({ pid: p, addr: B + 0x100000, pages: 2, file: 'f', offset: 4 })
  s.mmap({ pid: p, addr: C, pages: 2, shared: true })
  writeAll(s, p, A, 8)
  s.write({ pid: p, addr: B })
  s.read({ pid: p, addr: B + PAGE })
  s.write({ pid: p, addr: B + 0x100000 })
  s.write({ pid: p, addr: C })
  const c = s.fork({ pid: p, child: 'c' }).pid
  s.write({ pid: c, addr: A })
  s.mprotect({ pid: p, addr: A + 2 * PAGE, pages: 1, prot: 'none' })
  s.munmap({ pid: c, addr: A + 5 * PAGE, pages: 1 })
  const x = mustPfn(s, p, A + 6 * PAGE)
  while (!s.unmap({ pfn: x }).success) { /* 2.6.11 */ }
  s.mremap({ pid: c, addr: A + 6 * PAGE, pages: 2, newPages: 2, newAddr: C + 0x200000 })
  s.fork({ pid: c, child: 'g' })
  return s
}

for (const kernel of MODELS_UNDER_TEST) {
  t.test(`[${kernel}] snapshot/restore: the restored state is identical and keeps behaving identically`, async (t) => {
    const s = busy(kernel)
    clean(t, s)
    const snap = JSON.parse(JSON.stringify(s.snapshot())) as Snapshot
    t.equal(snap.kernel, kernel)
    const r = Simulator.fromSnapshot(snap)
    t.equal(stateOf(r), stateOf(s), 'same state, same PFNs, same ids')
    clean(t, r)
    // The same operations give the same results on both.
    for (const sim of [s, r]) {
      const p = sim.pidOf('p')
      const g = sim.pidOf('g')
      sim.write({ pid: p, addr: A + PAGE })
      sim.read({ pid: g, addr: A + 6 * PAGE })
      sim.read({ pid: g, addr: C + 0x200000 })
      sim.mmap({ pid: p, pages: 3 })
      sim.spawn({ name: 'new' })
      sim.exit({ pid: sim.pidOf('c') })
    }
    t.equal(stateOf(r), stateOf(s), 'still identical after more operations')
    clean(t, r)
  })

  t.test(`[${kernel}] snapshot/restore: an empty simulator round-trips`, async (t) => {
    const s = new Simulator({ version: kernel })
    const r = Simulator.fromSnapshot(s.snapshot())
    t.equal(stateOf(r), stateOf(s))
  })

  t.test(`[${kernel}] restoreSnapshot: inconsistent snapshots are InvalidArgumentError`, async (t) => {
    const s = busy(kernel)
    const good = (): Snapshot => JSON.parse(JSON.stringify(s.snapshot())) as Snapshot
    const inv = { name: 'InvalidArgumentError', code: 'invalid_argument' }
    const cases: Array<[string, (x: Snapshot) => void]> = [
      ['unknown format', (x) => { (x as { format: string }).format = 'nope' }],
      ['unknown version', (x) => { (x as { version: number }).version = 99 }],
      ['a refcount that does not add up', (x) => { x.frames.pages[x.frames.pages.length - 1][2] += 5 }],
      ['a frame twice', (x) => { x.frames.pages.push(x.frames.pages[0]) }],
      ['a frame outside the range', (x) => { x.frames.pages[0][0] = x.frames.next + 10 }],
      ['a frame both free and used', (x) => { x.frames.free.push(x.frames.pages[0][0]) }],
      ['an unknown anon_vma', (x) => { const v = x.processes[0].vmas.find((y) => y.anonVma !== null); if (v !== undefined) v.anonVma = 9999 }],
      ['an unknown address_space', (x) => { const v = x.processes[0].vmas.find((y) => y.file !== null); if (v !== undefined) v.file = 9999 }],
      ['a pid twice', (x) => { x.processes.push(x.processes[0]) }],
      ['overlapping VMAs', (x) => { const v = x.processes[0].vmas; v[1].start = v[0].start }],
      ['a PTE without a page table', (x) => { x.processes[0].ptes.push([0x7000000000, 0x1003]) }],
      ['a table level that does not exist', (x) => { x.processes[0].tables[0][0] = 7 }],
      ['a duplicate file name', (x) => { x.spaces.push({ ...x.spaces.find((y) => y.named) as Snapshot['spaces'][number], id: 999 }) }],
      ['an i_mmap entry for an unknown VMA', (x) => { const sp = x.spaces.find((y) => y.immap.length > 0); if (sp !== undefined) sp.immap.push(99999) }]
    ]
    for (const [what, corrupt] of cases) {
      const x = good()
      corrupt(x)
      t.throws(() => Simulator.fromSnapshot(x), inv, what)
    }
    t.throws(() => Simulator.fromSnapshot({ ...good(), kernel: 'x' as KernelVersion }), inv, 'unknown kernel')
    t.throws(() => Simulator.fromSnapshot(null as unknown as Snapshot), inv, 'not an object')
    const other: KernelVersion = kernel === '6.18' ? '2.6.11' : '6.18'
    const wrongModel = good()
    wrongModel.kernel = other
    t.throws(() => Simulator.fromSnapshot(wrongModel), inv, 'a snapshot of the other model with that model\'s structures')
    // Without verification a refcount mismatch is loaded as is (for debugging), and check() reports it.
    const x = good()
    x.frames.pages[x.frames.pages.length - 1][2] += 5
    const loose = Simulator.fromSnapshot(x, { verify: false })
    t.not(loose.check().violations.length, 0, 'check() finds the corruption')
  })
}
