/**
 * The journal replays every option of every operation exactly. Property: any seeded sequence of calls
 * (helpers/random-ops.ts, which tries every option of every op: shared anonymous mappings with an
 * offset, hints, MAP_FIXED, mremap without MREMAP_MAYMOVE, invalid calls, ...) journals entries that,
 * applied to a fresh simulator of the same model, give the identical snapshot, event stream and
 * journal. Structure: every field of every op definition reaches its journal entry.
 */
import t from 'tap'
import { OPS, Simulator, applyOp, type JournalOp, type KernelVersion, type SimEvent } from '../../src/sim/index.js'
import { wireJournalOp } from '../../src/sim/ops/op.js'
import { Generator, PRELUDE, invoke, outcomeOf, type Call } from './helpers/random-ops.js'

const MODELS: KernelVersion[] = ['2.6.11', '6.18']

function replay (version: KernelVersion, journal: readonly JournalOp[]): { sim: Simulator, events: SimEvent[] } {
  const sim = new Simulator({ version })
  const events: SimEvent[] = []
  sim.subscribe((e) => { events.push(e) })
  for (const op of JSON.parse(JSON.stringify(journal)) as JournalOp[]) applyOp(sim, op)
  return { sim, events }
}

for (const version of MODELS) {
  t.test(`[${version}] journal replay is exact for random call sequences`, async (t) => {
    const kinds = new Set<string>()
    for (let seed = 1; seed <= 40; seed++) {
      const sim = new Simulator({ version })
      const events: SimEvent[] = []
      sim.subscribe((e) => { events.push(e) })
      const gen = new Generator(seed)
      for (let i = 0; i < PRELUDE.length + 150; i++) {
        let call: Call
        if (i < PRELUDE.length) call = PRELUDE[i]
        else {
          const step = gen.next(sim)
          call = step.call
          kinds.add(step.kind)
        }
        outcomeOf(() => invoke(sim, call))
      }
      const r = replay(version, sim.journal)
      if (JSON.stringify(r.sim.snapshot()) !== JSON.stringify(sim.snapshot())) {
        t.fail(`seed ${seed}: the replayed state differs`)
        continue
      }
      t.equal(JSON.stringify(r.events.map(({ cause, ...e }) => ({ ...e, cause: { ...cause, tag: undefined } }))),
        JSON.stringify(events.map(({ cause, ...e }) => ({ ...e, cause: { ...cause, tag: undefined } }))), `seed ${seed}: same events`)
      t.strictSame(r.sim.journal, sim.journal, `seed ${seed}: the replay journals the same entries`)
    }
    t.ok([...kinds].some((k) => k.startsWith('mmap.anon.shared')), 'the sequences map shared anonymous memory (with offsets now and then)')
  })

  t.test(`[${version}] a shared anonymous mmap keeps its offset through the journal`, async (t) => {
    const sim = new Simulator({ version })
    const pid = sim.spawn({ name: 'p' }).pid
    const v = sim.mmap({ pid, addr: 0x10000000, pages: 4, shared: true, offset: 2 })
    t.equal(v.pgoff, version === '2.6.11' ? 2 : 0, '2.6.11 keeps the offset as pgoff; modern kernels ignore it')
    t.equal(sim.journal[1].offset, 2, 'the journal keeps the offset')
    const r = replay(version, sim.journal)
    t.equal(r.sim.processInfo(pid).vmaList[0].pgoff, v.pgoff)
  })
}

t.test('every field of every op reaches its journal entry (or is an alias it names)', async (t) => {
  // Fields that are another spelling of a journaled one: the process by name (the journal names it
  // by pid), spawn's and fork's name aliases, mmap's kind (the journal says file or not), and
  // populate's write (the journal's madvise names the advice). A walk's trace is output, not state.
  const ALIASES: Record<string, string[]> = { spawn: ['proc'], fork: ['name'], mmap: ['kind'], populate: ['write'], referenced: ['trace'], unmap: ['trace'] }
  for (const def of OPS) {
    if (!def.mutates) continue
    const keys = Object.keys(def.fields.shape).filter((k) => k !== 'pid' && k !== 'proc' && !(ALIASES[def.name] ?? []).includes(k))
    // The op's fields all set: the generic journal entry (or the op's own) must carry each of them.
    // 6.18 has every op (2.6.11 refuses the madvise advices it did not have).
    const sim = new Simulator({ version: '6.18' })
    sim.subscribe(() => {}) // the replay listens too, and the snapshot counts events
    sim.createFile({ name: 'f', pages: 8 })
    const pid = sim.spawn({ name: 'p' }).pid
    sim.mmap({ pid, addr: 0x10000000, pages: 4 })
    sim.write({ pid, addr: 0x10000000 })
    const pfn = sim.translate(pid, 0x10000000).pfn as number
    const full: Record<string, Record<string, unknown>> = {
      createFile: { name: 'g', pages: 3 },
      spawn: { name: 'q' },
      fork: { pid, child: 'c' },
      exit: { pid },
      mmap: { pid, addr: '0x20000000', fixed: 'noreplace', pages: 2, prot: 'r', shared: true, file: 'f', offset: 1 },
      munmap: { pid, addr: '0x10003000', pages: 1 },
      dontneed: { pid, addr: '0x10002000', pages: 1 },
      mprotect: { pid, addr: '0x10000000', pages: 1, prot: 'r' },
      mremap: { pid, addr: '0x10001000', pages: 1, newPages: 1, newAddr: '0x40000000', mayMove: true },
      madvise: { pid, addr: '0x10002000', pages: 1, advice: 'dontneed' },
      pageout: { pid, addr: '0x10002000', pages: 1 },
      free: { pid, addr: '0x10002000', pages: 1 },
      dontfork: { pid, addr: '0x10002000', pages: 1 },
      dofork: { pid, addr: '0x10002000', pages: 1 },
      wipeonfork: { pid, addr: '0x10002000', pages: 1 },
      keeponfork: { pid, addr: '0x10002000', pages: 1 },
      populate: { pid, addr: '0x10002000', pages: 2, write: true },
      mlock: { pid, addr: '0x10000000', pages: 2 },
      munlock: { pid, addr: '0x10000000', pages: 2 },
      read: { pid, addr: '0x10000010' },
      write: { pid, addr: '0x10000010' },
      exec: { pid, addr: '0x10000010' },
      referenced: { pfn, trace: true },
      unmap: { pfn, trace: true },
      mkclean: { pfn },
      migrate: { pfn },
      evict: { file: 'f' },
      writeback: { file: 'f' }
    }
    const args = full[def.name]
    if (args === undefined) { t.fail(`${def.name}: no example in this test: add one`); continue }
    if (def.name === 'exec') sim.mprotect({ pid, addr: 0x10000000, pages: 1, prot: 'rx' })
    const before = sim.journal.length
    applyOp(sim, { op: def.name, ...args })
    const entry = sim.journal[before]
    t.ok(entry !== undefined, `${def.name}: journaled`)
    for (const key of keys) t.ok(entry !== undefined && key in entry, `${def.name}: the journal keeps ${key}`)
    const r = replay('6.18', sim.journal)
    t.equal(JSON.stringify(r.sim.snapshot()), JSON.stringify(sim.snapshot()), `${def.name}: the journal replays to the same state`)
  }
})

t.test('every address field of every op is journaled as an address (hex on the wire)', async (t) => {
  for (const def of OPS) {
    for (const key of Object.keys(def.fields.shape).filter((k) => /addr/i.test(k))) {
      const entry = wireJournalOp({ op: def.name, [key]: 0x10000000 }, def.fields.shape)
      t.equal(entry[key], '0x10000000', `${def.name}.${key}`)
    }
  }
})
