import t from 'tap'
import { IntervalTree, type IntervalNode } from '../../src/sim/interval-tree.js'

// Tiny seeded PRNG so failures reproduce.
function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let r = Math.imul(a ^ (a >>> 15), 1 | a)
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296
  }
}

// The internals validate() inspects, so tests can corrupt them on purpose.
interface Raw {
  left: Raw | null
  right: Raw | null
  parent: Raw | null
  red: boolean
  subtreeLast: number
  owner: unknown
  start: number
  last: number
}
const raw = (n: IntervalNode<unknown>): Raw => n as unknown as Raw
const rootOf = (tr: IntervalTree<unknown>): Raw | null => (tr as unknown as { root: Raw | null }).root
const setSize = (tr: IntervalTree<unknown>, n: number): void => {
  (tr as unknown as { count: number }).count = n
}

const q = <T>(tr: IntervalTree<T>, s: number, l: number): T[] => [...tr.query(s, l)]
const fe = <T>(tr: IntervalTree<T>, s: number, l: number): T[] => {
  const out: T[] = []
  tr.forEachOverlap(s, l, (v, node) => {
    out.push(v)
    if (node.value !== v) throw new Error('node/value mismatch')
  })
  return out
}

t.test('empty tree', t => {
  const tr = new IntervalTree<string>()
  t.equal(tr.size, 0)
  t.ok(tr.isEmpty())
  t.same([...tr.values()], [])
  t.same(q(tr, 0, 100), [])
  t.same(fe(tr, 0, 100), [])
  t.equal(tr.validate(), null)
  t.end()
})

t.test('single node', t => {
  const tr = new IntervalTree<string>()
  const n = tr.insert('a', 10, 20)
  t.equal(n.start, 10)
  t.equal(n.last, 20)
  t.equal(n.value, 'a')
  t.equal(tr.size, 1)
  t.notOk(tr.isEmpty())
  t.equal(tr.validate(), null)
  t.same([...tr.values()], ['a'])
  t.same(q(tr, 0, 9), [])
  t.same(q(tr, 21, 30), [])
  t.same(q(tr, 0, 10), ['a'])
  t.same(q(tr, 20, 30), ['a'])
  t.same(q(tr, 15, 15), ['a'])
  t.same(q(tr, 0, 100), ['a'])
  tr.remove(n)
  t.equal(tr.size, 0)
  t.ok(tr.isEmpty())
  t.equal(tr.validate(), null)
  t.end()
})

t.test('query boundaries are inclusive at both ends', t => {
  const tr = new IntervalTree<string>()
  tr.insert('a', 0, 4)
  tr.insert('b', 5, 9)
  tr.insert('c', 10, 10)
  tr.insert('d', 11, 2 ** 40)
  t.same(q(tr, 4, 5), ['a', 'b'])
  t.same(q(tr, 9, 10), ['b', 'c'])
  t.same(q(tr, 10, 10), ['c'])
  t.same(q(tr, 10, 11), ['c', 'd'])
  t.same(q(tr, 2 ** 40, 2 ** 40), ['d'])
  t.same(q(tr, 2 ** 40 + 1, 2 ** 41), [])
  t.same(fe(tr, 4, 5), ['a', 'b'])
  // An inverted or NaN range is empty rather than an error.
  t.same(q(tr, 9, 5), [])
  t.same(q(tr, Number.NaN, 5), [])
  t.end()
})

t.test('equal starts keep insertion order', t => {
  const tr = new IntervalTree<number>()
  const nodes: Array<IntervalNode<number>> = []
  for (let i = 0; i < 50; i++) nodes.push(tr.insert(i, 7, 7 + (i % 5)))
  t.equal(tr.validate(), null)
  const all = Array.from({ length: 50 }, (_, i) => i)
  t.same([...tr.values()], all)
  t.same(q(tr, 7, 7), all)
  t.same(q(tr, 11, 20), all.filter(i => i % 5 === 4))
  // Removing some keeps the rest in their original relative order.
  for (let i = 0; i < 50; i += 3) tr.remove(nodes[i])
  t.equal(tr.validate(), null)
  t.same([...tr.values()], all.filter(i => i % 3 !== 0))
  t.end()
})

t.test('removal of root, leaf and inner nodes', t => {
  const build = (): { tr: IntervalTree<number>, nodes: Array<IntervalNode<number>> } => {
    const tr = new IntervalTree<number>()
    const nodes: Array<IntervalNode<number>> = []
    for (let i = 0; i < 15; i++) nodes.push(tr.insert(i, i * 10, i * 10 + 5))
    return { tr, nodes }
  }
  const find = (tr: IntervalTree<number>, nodes: Array<IntervalNode<number>>, pick: (r: Raw) => boolean): IntervalNode<number> => {
    const n = nodes.find(x => pick(raw(x)))
    if (n === undefined) throw new Error('no such node')
    return n
  }
  const cases: Array<[string, (r: Raw) => boolean]> = [
    ['root', r => r.parent === null],
    ['leaf', r => r.left === null && r.right === null],
    ['inner with two children', r => r.parent !== null && r.left !== null && r.right !== null]
  ]
  for (const [name, pick] of cases) {
    const { tr, nodes } = build()
    const victim = find(tr, nodes, pick)
    tr.remove(victim)
    t.equal(tr.validate(), null, name)
    t.equal(tr.size, 14, name)
    t.same([...tr.values()], nodes.filter(n => n !== victim).map(n => n.value), name)
    t.same(q(tr, victim.start, victim.last), [], name)
  }
  // Drain in an awkward order down to empty.
  const { tr, nodes } = build()
  for (const i of [7, 0, 14, 3, 11, 1, 13, 5, 9, 2, 12, 4, 10, 6, 8]) {
    tr.remove(nodes[i])
    t.equal(tr.validate(), null)
  }
  t.ok(tr.isEmpty())
  t.end()
})

t.test('removing a foreign or removed node throws', t => {
  const a = new IntervalTree<string>()
  const b = new IntervalTree<string>()
  const na = a.insert('a', 1, 2)
  b.insert('b', 1, 2)
  t.throws(() => b.remove(na), /not in this tree/)
  t.equal(b.size, 1)
  t.throws(() => a.remove({ start: 1, last: 2, value: 'fake' }), /not in this tree/)
  a.remove(na)
  t.throws(() => a.remove(na), /not in this tree/)
  t.equal(a.validate(), null)
  t.equal(b.validate(), null)
  t.end()
})

t.test('insert rejects bad intervals', t => {
  const tr = new IntervalTree<string>()
  t.throws(() => tr.insert('x', 5, 4), RangeError)
  t.throws(() => tr.insert('x', 0.5, 4), RangeError)
  t.throws(() => tr.insert('x', 0, Number.NaN), RangeError)
  t.throws(() => tr.insert('x', 0, Infinity), RangeError)
  t.equal(tr.size, 0)
  t.end()
})

t.test('removing the node being visited is safe', t => {
  const mk = (): { tr: IntervalTree<number>, byVal: Map<number, IntervalNode<number>> } => {
    const tr = new IntervalTree<number>()
    const byVal = new Map<number, IntervalNode<number>>()
    for (let i = 0; i < 40; i++) byVal.set(i, tr.insert(i, i % 8, (i % 8) + 3))
    return { tr, byVal }
  }
  {
    const { tr, byVal } = mk()
    const seen: number[] = []
    for (const v of tr.query(2, 5)) {
      seen.push(v)
      tr.remove(byVal.get(v) as IntervalNode<number>)
    }
    t.equal(seen.length, 40 - 5 - 5) // starts 0..7; [s, s+3] misses [2,5] only for s=6,7
    t.equal(tr.validate(), null)
    t.same(q(tr, 2, 5), [])
  }
  {
    const { tr } = mk()
    let n = 0
    tr.forEachOverlap(0, 100, (_v, node) => {
      n++
      tr.remove(node)
    })
    t.equal(n, 40)
    t.ok(tr.isEmpty())
  }
  {
    const { tr, byVal } = mk()
    const order: number[] = []
    for (const v of tr.values()) {
      order.push(v)
      tr.remove(byVal.get(v) as IntervalNode<number>)
      t.equal(tr.validate(), null)
    }
    t.equal(order.length, 40)
    t.ok(tr.isEmpty())
  }
  t.end()
})

t.test('validate reports corruption', t => {
  const e = new IntervalTree<number>()
  setSize(e, 3)
  t.match(e.validate(), /size is 3 but the tree is empty/)

  // 31 ascending inserts give a fixed shape: root 7 (black), its left subtree
  // 0..6 all black, 15 red with black children 11 and 19.
  const fresh = (): { tr: IntervalTree<number>, nodes: Array<IntervalNode<number>> } => {
    const tr = new IntervalTree<number>()
    const nodes: Array<IntervalNode<number>> = []
    for (let i = 0; i < 31; i++) nodes.push(tr.insert(i, i, i + 2))
    return { tr, nodes }
  }
  const root = (tr: IntervalTree<number>): Raw => rootOf(tr) as Raw
  const cases: Array<[string, (tr: IntervalTree<number>, n: Raw[]) => void, RegExp]> = [
    ['root parent', (tr, n) => { root(tr).parent = n[3] }, /root has a parent/],
    ['red root', tr => { root(tr).red = true }, /root is red/],
    ['owner', (_tr, n) => { n[0].owner = null }, /node \[0, 2\] is not owned/],
    ['start > last', (_tr, n) => { n[0].start = 99 }, /start > last/],
    ['left parent', (_tr, n) => { n[3].parent = null }, /node \[7, 9\]: left child's parent/],
    ['right parent', (_tr, n) => { n[15].parent = null }, /node \[7, 9\]: right child's parent/],
    ['cycle', (tr, n) => { n[0].left = root(tr) }, /node \[0, 2\]: left child's parent/],
    ['red-red', (_tr, n) => { n[11].red = true }, /node \[15, 17\]: red node has a red child/],
    ['order', (_tr, n) => { n[0].start = 2; n[2].start = 0 }, /out of order/],
    ['black height', (_tr, n) => { n[0].red = true }, /node \[1, 3\]: black heights differ/],
    ['augmentation', tr => { root(tr).subtreeLast += 1 }, /node \[7, 9\]: subtreeLast is 33, expected 32/],
    ['size mismatch', tr => { setSize(tr, 30) }, /size is 30 but the tree holds 31 nodes/]
  ]
  for (const [name, corrupt, re] of cases) {
    const { tr, nodes } = fresh()
    t.equal(tr.validate(), null, `${name}: clean before`)
    corrupt(tr, nodes.map(raw))
    t.match(tr.validate(), re, name)
  }
  t.end()
})

t.test('randomised against brute force', t => {
  interface Entry { seq: number, start: number, last: number, node: IntervalNode<number> }
  const run = (seed: number, ops: number, maxStart: number, maxLen: number): void => {
    const rnd = mulberry32(seed)
    const int = (n: number): number => Math.floor(rnd() * n)
    const tr = new IntervalTree<number>()
    let live: Entry[] = []
    let seq = 0
    const order = (a: Entry, b: Entry): number => a.start - b.start || a.seq - b.seq
    let failures = 0
    const fail = (msg: string): void => {
      failures++
      if (failures < 5) t.fail(`seed ${seed}: ${msg}`)
    }
    for (let op = 0; op < ops; op++) {
      // Grow for the first half, shrink for the second, so both deep trees and
      // drains to empty are exercised.
      const growBias = op < ops / 2 ? 0.6 : 0.35
      const r = rnd()
      if (r < growBias || live.length === 0) {
        const start = int(maxStart)
        const last = start + int(maxLen)
        const s = seq++
        live.push({ seq: s, start, last, node: tr.insert(s, start, last) })
      } else if (r < growBias + 0.3) {
        const i = int(live.length)
        tr.remove(live[i].node)
        live.splice(i, 1)
      } else {
        const a = int(maxStart + maxLen)
        const b = rnd() < 0.1 ? a : a + int(maxLen * 2)
        const expect = live.filter(e => e.start <= b && a <= e.last).sort(order).map(e => e.seq)
        const got = q(tr, a, b)
        if (JSON.stringify(got) !== JSON.stringify(expect)) fail(`query [${a}, ${b}] got ${JSON.stringify(got)} want ${JSON.stringify(expect)}`)
        const got2 = fe(tr, a, b)
        if (JSON.stringify(got2) !== JSON.stringify(expect)) fail(`forEachOverlap [${a}, ${b}] mismatch`)
      }
      const err = tr.validate()
      if (err !== null) fail(`op ${op}: ${err}`)
      if (tr.size !== live.length) fail(`op ${op}: size ${tr.size} want ${live.length}`)
    }
    live = live.sort(order)
    t.same([...tr.values()], live.map(e => e.seq), `seed ${seed}: values() in order`)
    t.equal(failures, 0, `seed ${seed}: ${ops} ops agree with brute force`)
  }
  // Narrow key space: many equal starts and overlaps.
  run(1, 4000, 64, 8)
  run(2, 3000, 1000, 50)
  // Page offsets up to 2^40, as in the simulator.
  run(3, 3000, 2 ** 40, 2 ** 20)
  t.end()
})
