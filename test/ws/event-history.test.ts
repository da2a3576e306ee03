import { test } from 'tap'
import type { Cause, SimEvent } from '../../src/sim/index.js'
import { Simulator } from '../../src/sim/index.js'
import { EventHistory } from '../../src/sessions/event-history.js'

/** The compact history against the plain ring it replaced: same events, same order, same fields. */

function rng (seed: number): () => number {
  let s = seed >>> 0
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32 }
}

const causes: Cause[] = [{ op: 'fork', pid: 1, tag: 'req-1' }, { op: 'access', pid: 2, path: 'cow_copy' }, { op: 'munmap' }]

function randomEvent (r: () => number, seq: number): SimEvent {
  const cause = causes[Math.floor(r() * causes.length)]
  const x = r()
  if (x < 0.7) {
    const before = r() < 0.3 ? 0 : (0x1000 + Math.floor(r() * 1e6)) * 4096 + 0x67
    const after = r() < 0.3 ? 0 : 2 ** 52 + Math.floor(r() * 1e6) * 4096 + 0x865
    const type = before === 0 ? 'pte.set' : after === 0 ? 'pte.cleared' : 'pte.changed'
    return { seq, type, cause, pid: 1 + Math.floor(r() * 3000), addr: Math.floor(r() * 2 ** 35) * 4096, before, after }
  }
  if (x < 0.85) return { seq, type: 'frame.allocated', cause, pfn: 4096 + seq, kind: 'anon' }
  return { seq, type: 'vma.created', cause, pid: 7, vma: { id: seq, start: 0x10000000, end: 0x10004000, pgoff: 0x10000, flags: 0x73 } }
}

/** What a plain ring of the last `size` objects would replay after `since`. */
const naive = (all: SimEvent[], size: number, since: number): SimEvent[] => (size === 0 ? [] : all.slice(-size)).filter((e) => e.seq > since)

function replay (h: EventHistory, since: number): SimEvent[] {
  const out: SimEvent[] = []
  h.forEachAfter(since, (e) => out.push(e))
  return out
}

test('replays exactly what a ring of event objects would, for every size and resume point', async (t) => {
  for (const size of [0, 1, 2, 5, 63, 64, 65, 200, 4096]) {
    for (const seed of [1, 2, 3]) {
      const r = rng(seed * 1000 + size)
      const h = new EventHistory(size)
      const all: SimEvent[] = []
      const total = Math.floor(r() * size * 3) + 5
      for (let seq = 1; seq <= total; seq++) {
        const e = randomEvent(r, seq)
        all.push(e)
        h.push(e)
      }
      const kept = naive(all, size, 0)
      t.equal(h.count, kept.length, `size ${size} seed ${seed}: count`)
      t.equal(h.oldestSeq, kept[0]?.seq, `size ${size} seed ${seed}: oldest seq`)
      for (const since of [0, 1, Math.floor(total / 2), total - 1, total, total + 5]) {
        t.strictSame(replay(h, since), naive(all, size, since), `size ${size} seed ${seed} since ${since}`)
      }
    }
  }
})

test('non-PTE events come back as the very objects; PTE events as equal objects', async (t) => {
  const h = new EventHistory(8)
  const pte: SimEvent = { seq: 1, type: 'pte.set', cause: causes[0], pid: 1, addr: 0x10000000, before: 0, after: 0x1005067 }
  const other: SimEvent = { seq: 2, type: 'process.spawned', cause: causes[2], pid: 1 }
  h.push(pte)
  h.push(other)
  const [a, b] = replay(h, 0)
  t.not(a, pte, 'the PTE event is rebuilt')
  t.strictSame(a, pte)
  t.equal(a.cause, pte.cause, 'sharing its cause')
  t.equal(b, other, 'the other event is the object itself')
})

test('a real simulator stream replays as emitted', async (t) => {
  const sim = new Simulator({ version: '6.18' })
  const h = new EventHistory(300)
  const all: SimEvent[] = []
  sim.subscribe((e) => { all.push({ ...e }); h.push(e) })
  const P = sim.spawn({ name: 'P' }).pid
  sim.mmap({ pid: P, addr: 0x10000000, pages: 64 })
  for (let i = 0; i < 64; i++) sim.write({ pid: P, addr: 0x10000000 + i * 4096 })
  const C = sim.fork({ pid: P, child: 'C' }).pid
  for (let i = 0; i < 32; i++) sim.write({ pid: C, addr: 0x10000000 + i * 4096 })
  sim.exit({ pid: C })
  t.ok(all.length > 300, `${all.length} events, more than the history keeps`)
  t.strictSame(replay(h, 0), naive(all, 300, 0))
  t.strictSame(replay(h, all[all.length - 10].seq), all.slice(-9))
})

test('the bus gives PTE events as values to a PteListener and as one shared object to the others, in one order', async (t) => {
  const sim = new Simulator({ version: '6.18' })
  const plainA: SimEvent[] = []
  const plainB: SimEvent[] = []
  const values: Array<[number, string, number, number, number, number]> = []
  const mixed: SimEvent[] = []
  sim.subscribe((e) => plainA.push(e))
  sim.subscribe((e) => mixed.push(e), (seq, type, _cause, pid, addr, before, after) => { values.push([seq, type, pid, addr, before, after]) })
  sim.subscribe((e) => plainB.push(e))
  const pid = sim.spawn({ name: 'P' }).pid
  sim.mmap({ pid, addr: 0x10000000, pages: 4, prot: 'rw' })
  for (let i = 0; i < 4; i++) sim.write({ pid, addr: 0x10000000 + i * 4096 })
  const child = sim.fork({ pid }).pid
  sim.exit({ pid: child })
  t.ok(plainA.length > 12)
  t.same(plainA.map((e) => e.seq), plainA.map((_, i) => i + 1), 'one sequence, no gaps')
  t.ok(plainA.every((e, i) => e === plainB[i]), 'the plain listeners share each event object')
  const ptes = plainA.filter((e) => e.type.startsWith('pte.'))
  t.same(values, ptes.map((e) => [e.seq, e.type, e.pid, e.addr, e.before, e.after]), 'the PteListener got every PTE event, as values, in order')
  t.same(mixed, plainA.filter((e) => !e.type.startsWith('pte.')), 'and its plain listener every other event')
  t.same(Object.keys(ptes[0]), ['type', 'cause', 'pid', 'addr', 'before', 'after', 'seq'], 'PTE event objects keep their field order')
})
