/**
 * Radix priority search tree of closed intervals [radix_index, heap_index], as
 * Linux 2.6.11 uses for mapping->i_mmap (a VMA is [vm_pgoff, vm_pgoff + pages - 1]).
 *
 * A pure-data transcription of:
 *  - lib/prio_tree.c: index_bits_to_maxindex / prio_tree_init, prio_tree_maxindex,
 *    prio_tree_expand, prio_tree_replace, prio_tree_insert, prio_tree_remove,
 *    prio_tree_left, prio_tree_right, prio_tree_parent, overlap, prio_tree_first,
 *    prio_tree_next (get_index() in its root->raw form: RADIX_INDEX / HEAP_INDEX).
 *  - include/linux/prio_tree.h: struct prio_tree_root (index_bits, reset to 1 by
 *    __INIT_PRIO_TREE_ROOT), struct prio_tree_iter, INIT_PRIO_TREE_NODE (an empty
 *    link points at the node itself; the root is its own parent).
 *  - mm/prio_tree.c: vma_prio_tree_add, vma_prio_tree_insert, vma_prio_tree_remove,
 *    vma_prio_tree_next, with the vm_set rules: VMAs with identical indices share one
 *    tree node; the tree-node VMA points (vm_set.head) at the head of a circular
 *    vm_set.list of the others; vm_set.parent == NULL marks a list member.
 *  - include/linux/mm.h: vma_prio_tree_foreach (query order).
 * Callers: mm/mmap.c __vma_link_file -> vma_prio_tree_insert (insert()),
 * __remove_shared_vm_struct -> vma_prio_tree_remove (remove()), kernel/fork.c
 * dup_mmap -> vma_prio_tree_add(tmp, mpnt) (insertAfter()).
 *
 * BITS_PER_LONG is 64 (x86_64). Indices are JS numbers (safe integers), so there
 * are no bitwise operators: a single-bit mask up to 1UL << 63 is an exact power of
 * two as a double, and `x & mask` is floor(x / mask) % 2, which for x < 2^53 and
 * mask >= 2^53 is 0 exactly as in C.
 */

/** A handle per value (per VMA), returned by insert()/insertAfter(); pass it to remove(). */
export interface PrioTreeNode<T> {
  readonly start: number
  readonly last: number
  readonly value: T
}

/** Exact tree structure for snapshots (plain JSON). */
export interface PrioTreeShape {
  indexBits: number
  root: PrioShapeNode | null
}

/**
 * One tree node: ids[0] is the VMA that is the tree node, ids[1..] its vm_set list
 * in walk order (ids[1] is vm_set.head).
 */
export interface PrioShapeNode {
  ids: number[]
  left: PrioShapeNode | null
  right: PrioShapeNode | null
}

const BITS_PER_LONG = 64
// 1UL << (BITS_PER_LONG - 1): where the size_flag / size_level phase starts.
const TOP_BIT = 2 ** (BITS_PER_LONG - 1)
// ULONG_MAX: only ever used as the iterator's "below the last size bit" mask and
// as index_bits_to_maxindex[BITS_PER_LONG - 1]; Infinity compares the same way.
const ULONG_MAX = Number.POSITIVE_INFINITY
// Keys are safe integers, so index_bits never needs to exceed 53
// (prio_tree_maxindex(53) = 2^53 - 1); restore() refuses more.
const MAX_INDEX_BITS = 53

// lib/prio_tree.c prio_tree_init(): index_bits_to_maxindex[i] = (1UL << (i + 1)) - 1,
// the last entry ~0UL.
const INDEX_BITS_TO_MAXINDEX: number[] = []
for (let i = 0; i < BITS_PER_LONG - 1; i++) INDEX_BITS_TO_MAXINDEX.push(2 ** (i + 1) - 1)
INDEX_BITS_TO_MAXINDEX.push(ULONG_MAX)

// prio_tree_maxindex(): the largest heap_index a tree with `bits` index bits holds.
function maxindex (bits: number): number {
  return INDEX_BITS_TO_MAXINDEX[bits - 1]
}

// `x & mask` for a single-bit mask (a power of two) and 0 <= x < 2^53.
function testBit (x: number, mask: number): boolean {
  return Math.floor(x / mask) % 2 === 1
}

// `mask >>= 1` for a single-bit mask: 1 >> 1 is 0.
function shr1 (mask: number): number {
  return mask > 1 ? mask / 2 : 0
}

class Entry<T> implements PrioTreeNode<T> {
  // shared.prio_tree_node (struct raw_prio_tree_node). Empty links point at the
  // entry itself (INIT_PRIO_TREE_NODE); the root is its own parent.
  left: Entry<T>
  right: Entry<T>
  // Also shared.vm_set.parent: null marks a vm_set list member (not a tree node).
  parent: Entry<T> | null
  // shared.vm_set.head: on a tree node, the head of its list; on the list head,
  // the tree node; null on every other list member.
  head: Entry<T> | null = null
  // shared.vm_set.list (a circular struct list_head); used only while parent is null.
  // In the kernel these overlay left/right; kept apart here for readability.
  next: Entry<T>
  prev: Entry<T>
  // Lets remove() reject foreign or already-removed handles in O(1).
  owner: PrioTree<T> | null

  constructor (
    readonly value: T,
    readonly start: number,
    readonly last: number,
    owner: PrioTree<T>
  ) {
    this.left = this
    this.right = this
    this.parent = this
    this.next = this
    this.prev = this
    this.owner = owner
  }
}

// INIT_PRIO_TREE_NODE()
function initNode<T> (n: Entry<T>): void {
  n.left = n.right = n.parent = n
}

// prio_tree_root()
function isRoot<T> (n: Entry<T>): boolean {
  return n.parent === n
}

// prio_tree_left_empty() / prio_tree_right_empty()
function leftEmpty<T> (n: Entry<T>): boolean {
  return n.left === n
}

function rightEmpty<T> (n: Entry<T>): boolean {
  return n.right === n
}

// include/linux/list.h, on vm_set.list.
function initListHead<T> (e: Entry<T>): void {
  e.next = e.prev = e
}

function listAddBetween<T> (e: Entry<T>, prev: Entry<T>, next: Entry<T>): void {
  next.prev = e
  e.next = next
  e.prev = prev
  prev.next = e
}

// list_add(new, head): new goes right after head.
function listAdd<T> (e: Entry<T>, head: Entry<T>): void {
  listAddBetween(e, head, head.next)
}

// list_add_tail(new, head): new goes right before head, i.e. last in the ring.
function listAddTail<T> (e: Entry<T>, head: Entry<T>): void {
  listAddBetween(e, head.prev, head)
}

function listDelInit<T> (e: Entry<T>): void {
  e.prev.next = e.next
  e.next.prev = e.prev
  initListHead(e)
}

function listEmpty<T> (e: Entry<T>): boolean {
  return e.next === e
}

function describe (n: { start: number, last: number }): string {
  return `node [${n.start}, ${n.last}]`
}

// struct prio_tree_iter. r_index/h_index are the query; mask, value and
// size_level track the radix position of cur exactly as the kernel does.
interface Iter<T> {
  cur: Entry<T> | null
  mask: number
  value: number
  sizeLevel: number
  readonly rIndex: number
  readonly hIndex: number
  // Not in the kernel: set once prio_tree_next() has returned NULL.
  done: boolean
  // Not in the kernel: told of every node the walk moves down onto, for traceQuery().
  readonly onVisit: ((n: Entry<T>) => void) | null
}

// overlap()
function overlap<T> (it: Iter<T>, n: Entry<T>): boolean {
  return it.hIndex >= n.start && it.rIndex <= n.last
}

// Values on a tree node in vma_prio_tree_next() order: the node, then its list from the head.
function nodeValues<T> (n: Entry<T>): T[] {
  const out = [n.value]
  const head = n.head
  if (head !== null) {
    let e = head
    do {
      out.push(e.value)
      e = e.next
    } while (e !== head)
  }
  return out
}

export class PrioTree<T> {
  // struct prio_tree_root: prio_tree_node (null when empty) and index_bits.
  private root: Entry<T> | null = null
  private indexBits = 1
  private count = 0

  /** Number of values (VMAs), not tree nodes. */
  get size (): number {
    return this.count
  }

  isEmpty (): boolean {
    return this.root === null
  }

  /**
   * vma_prio_tree_insert(): insert [start, last]; if a tree node already has these
   * indices, the value joins that node's vm_set list at its tail.
   */
  insert (value: T, start: number, last: number): PrioTreeNode<T> {
    checkInterval('insert', start, last)
    const vma = new Entry(value, start, last, this)
    vma.head = null
    const ptr = this.prioInsert(vma)
    if (ptr !== vma) this.vmaAdd(vma, ptr)
    this.count++
    return vma
  }

  /**
   * dup_mmap()'s vma_prio_tree_add(tmp, mpnt): add a value known to have the same
   * indices as `old`. Like the kernel, it lands right after `old` when `old` is a
   * list member, and at the tail of the list when `old` is the tree node.
   */
  insertAfter (value: T, start: number, last: number, old: PrioTreeNode<T>): PrioTreeNode<T> {
    checkInterval('insertAfter', start, last)
    const o = old as Entry<T>
    if (!(o instanceof Entry) || o.owner !== this) {
      throw new Error(`PrioTree.insertAfter: ${describe(old)} is not in this tree`)
    }
    if (o.start !== start || o.last !== last) {
      throw new RangeError(`PrioTree.insertAfter: [${start}, ${last}] differs from ${describe(old)}`)
    }
    const vma = new Entry(value, start, last, this)
    this.vmaAdd(vma, o)
    this.count++
    return vma
  }

  /** vma_prio_tree_remove(); throws for a handle not currently in this tree. */
  remove (node: PrioTreeNode<T>): void {
    const vma = node as Entry<T>
    if (!(vma instanceof Entry) || vma.owner !== this) {
      throw new Error(`PrioTree.remove: ${describe(node)} is not in this tree`)
    }
    this.vmaRemove(vma)
    this.count--
    vma.owner = null
    vma.head = null
    vma.parent = null
    vma.left = vma.right = vma
    initListHead(vma)
  }

  /**
   * Values overlapping [start, last] in exactly vma_prio_tree_foreach() order.
   * The walk is done up front, so removing any value during iteration is safe
   * (values removed before their turn are skipped); insertions are not seen.
   */
  * query (start: number, last: number): Generator<T> {
    for (const e of this.collect(start, last)) {
      if (e.owner === this) yield e.value
    }
  }

  /** Same order and removal rules as query(), without a generator. */
  forEachOverlap (start: number, last: number, fn: (value: T, node: PrioTreeNode<T>) => void): void {
    for (const e of this.collect(start, last)) {
      if (e.owner === this) fn(e.value, e)
    }
  }

  /** Every value, in the order of a query over the whole index range. */
  * values (): Generator<T> {
    yield * this.query(0, Number.MAX_SAFE_INTEGER)
  }

  /**
   * The kernel walk for [start, last]: every tree node prio_tree_first()/next()
   * moves onto (the root, then each prio_tree_left()/prio_tree_right() descent),
   * in order, with the node's values in list order and whether overlap() held.
   * Climbs back up (prio_tree_parent()) are not listed.
   */
  traceQuery (start: number, last: number): Array<{ radix: number, heap: number, values: T[], overlaps: boolean }> {
    const out: Array<{ radix: number, heap: number, values: T[], overlaps: boolean }> = []
    if (!(start <= last)) return out
    const it = this.newIter(start, last, (n) => {
      out.push({ radix: n.start, heap: n.last, values: nodeValues(n), overlaps: overlap(it, n) })
    })
    let n = this.prioNext(it)
    while (n !== null) n = this.prioNext(it)
    return out
  }

  /**
   * Check parent pointers, the heap order prio_tree_insert() keeps (larger
   * heap_index above; on a tie, smaller radix_index above), the radix placement of
   * every node (radix bits for the first index_bits levels, then bits 63..0 of
   * heap_index - radix_index), the vm_set lists and the size. Returns the first
   * violation, or null.
   */
  validate (): string | null {
    const root = this.root
    if (!Number.isInteger(this.indexBits) || this.indexBits < 1 || this.indexBits > MAX_INDEX_BITS) {
      return `index_bits is ${this.indexBits}`
    }
    if (root === null) {
      if (this.indexBits !== 1) return `empty tree has index_bits ${this.indexBits}, expected 1`
      return this.count === 0 ? null : `size is ${this.count} but the tree is empty`
    }
    if (root.parent !== root) return 'root is not its own parent'
    const ctx = { seen: 0, path: [] as boolean[] }
    const res = this.check(root, 0, ctx)
    if (res !== null) return res
    if (ctx.seen !== this.count) return `size is ${this.count} but the tree holds ${ctx.seen} values`
    return null
  }

  /** The exact structure: tree nodes with their list members in walk order, and index_bits. */
  shape (idOf: (v: T) => number): PrioTreeShape {
    const walk = (n: Entry<T>): PrioShapeNode => ({
      ids: nodeValues(n).map(idOf),
      left: leftEmpty(n) ? null : walk(n.left),
      right: rightEmpty(n) ? null : walk(n.right)
    })
    return { indexBits: this.indexBits, root: this.root === null ? null : walk(this.root) }
  }

  /**
   * Inverse of shape(): rebuild the same nodes, lists and index_bits, so every
   * walk visits the same nodes in the same order. Throws on a malformed shape.
   */
  static restore<T> (
    shape: PrioTreeShape,
    valueOf: (id: number) => { value: T, start: number, last: number }
  ): { tree: PrioTree<T>, nodes: Map<number, PrioTreeNode<T>> } {
    const tree = new PrioTree<T>()
    const nodes = new Map<number, PrioTreeNode<T>>()
    const bits = shape.indexBits
    if (!Number.isInteger(bits) || bits < 1 || bits > MAX_INDEX_BITS) {
      throw new RangeError(`PrioTree.restore: bad indexBits ${bits}`)
    }
    // Deeper than the last size level cannot be a valid tree; checking here
    // also bounds the recursion on hostile input.
    const maxDepth = bits + BITS_PER_LONG
    const build = (s: PrioShapeNode, parent: Entry<T> | null, depth: number): Entry<T> => {
      if (depth > maxDepth) throw new RangeError('PrioTree.restore: tree too deep')
      if (!Array.isArray(s.ids) || s.ids.length === 0) throw new RangeError('PrioTree.restore: node without ids')
      const entries = s.ids.map((id) => {
        if (nodes.has(id)) throw new RangeError(`PrioTree.restore: id ${id} appears twice`)
        const v = valueOf(id)
        checkInterval('restore', v.start, v.last)
        const e = new Entry(v.value, v.start, v.last, tree)
        nodes.set(id, e)
        return e
      })
      const n = entries[0]
      for (const e of entries) {
        if (e.start !== n.start || e.last !== n.last) {
          throw new RangeError(`PrioTree.restore: ${describe(e)} shares a node with ${describe(n)}`)
        }
      }
      initNode(n)
      if (parent !== null) n.parent = parent
      if (entries.length > 1) {
        const head = entries[1]
        head.parent = null
        initListHead(head)
        head.head = n
        n.head = head
        for (let i = 2; i < entries.length; i++) {
          const e = entries[i]
          e.parent = null
          listAddTail(e, head)
        }
      }
      if (s.left !== null) n.left = build(s.left, n, depth + 1)
      if (s.right !== null) n.right = build(s.right, n, depth + 1)
      return n
    }
    if (shape.root !== null) {
      tree.indexBits = bits
      tree.root = build(shape.root, null, 0)
    } else if (bits !== 1) {
      throw new RangeError(`PrioTree.restore: empty tree with indexBits ${bits}`)
    }
    tree.count = nodes.size
    const err = tree.validate()
    if (err !== null) throw new RangeError(`PrioTree.restore: ${err}`)
    return { tree, nodes }
  }

  // ---- mm/prio_tree.c ----

  // vma_prio_tree_add(): vma maps the same pages as old.
  private vmaAdd (vma: Entry<T>, old: Entry<T>): void {
    // BUG_ON(RADIX_INDEX(vma) != RADIX_INDEX(old)); BUG_ON(HEAP_INDEX(...))
    if (vma.start !== old.start || vma.last !== old.last) {
      throw new Error(`BUG: vma_prio_tree_add ${describe(vma)} onto ${describe(old)}`)
    }
    vma.head = null
    vma.parent = null
    vma.left = vma.right = vma
    if (old.parent === null) {
      // old is on a list: go right after it.
      listAdd(vma, old)
    } else if (old.head !== null) {
      // old is the tree node and has a list: go at its tail.
      listAddTail(vma, old.head)
    } else {
      // old is a lone tree node: vma becomes the list head.
      initListHead(vma)
      vma.head = old
      old.head = vma
    }
  }

  // vma_prio_tree_remove()
  private vmaRemove (vma: Entry<T>): void {
    if (vma.head === null) {
      if (vma.parent === null) listDelInit(vma)
      else this.prioRemove(vma)
      return
    }
    // BUG_ON(vma->shared.vm_set.head->shared.vm_set.head != vma)
    if (vma.head.head !== vma) throw new Error(`BUG: vm_set.head of ${describe(vma)} does not point back`)
    if (vma.parent !== null) {
      // A tree node with a list: its list head takes its place in the tree and
      // the next member (if any) becomes the new head.
      const head = vma.head
      let newHead: Entry<T> | null = null
      if (!listEmpty(head)) {
        newHead = head.next
        listDelInit(head)
      }
      this.prioReplace(vma, head)
      head.head = newHead
      if (newHead !== null) newHead.head = head
    } else {
      // The list head: the next member (if any) becomes the head.
      const node = vma.head
      if (!listEmpty(vma)) {
        const newHead = vma.next
        listDelInit(vma)
        node.head = newHead
        newHead.head = node
      } else {
        node.head = null
      }
    }
  }

  // vma_prio_tree_next(): the node's list before moving on to the next tree node.
  private vmaNext (vma: Entry<T> | null, it: Iter<T>): Entry<T> | null {
    if (vma === null) return this.prioNext(it)
    if (vma.parent !== null) {
      if (vma.head !== null) return vma.head
    } else {
      const next = vma.next
      // Only the list head has vm_set.head set: meeting it again ends the list.
      if (next.head === null) return next
    }
    return this.prioNext(it)
  }

  // vma_prio_tree_foreach(vma, iter, root, start, last), collected.
  private collect (start: number, last: number): Array<Entry<T>> {
    const out: Array<Entry<T>> = []
    // The kernel never asks with begin > end; an empty answer like IntervalTree.
    if (!(start <= last)) return out
    const it = this.newIter(start, last, null)
    for (let vma = this.vmaNext(null, it); vma !== null; vma = this.vmaNext(vma, it)) out.push(vma)
    return out
  }

  // ---- lib/prio_tree.c ----

  // prio_tree_expand(): grow index_bits until max_heap_index fits; node becomes the
  // root. Each extra bit beyond the first pulls the current root out onto a left
  // chain under node, since every old radix_index has that bit clear.
  private prioExpand (node: Entry<T>, maxHeapIndex: number): Entry<T> {
    let first: Entry<T> | null = null
    let last: Entry<T> | null = null

    if (maxHeapIndex > maxindex(this.indexBits)) this.indexBits++

    while (maxHeapIndex > maxindex(this.indexBits)) {
      this.indexBits++
      if (this.root === null) continue
      // prio_tree_remove() of a lone root resets index_bits to 1, and the loop
      // then counts up again from there, exactly as in the kernel.
      const top = this.root
      this.prioRemove(top)
      initNode(top)
      if (first === null) {
        first = top
        last = top
      } else {
        const prev = last as Entry<T>
        last = top
        prev.left = last
        last.parent = prev
      }
    }

    initNode(node)
    if (first !== null) {
      node.left = first
      first.parent = node
    } else {
      last = node
    }
    if (this.root !== null) {
      const l = last as Entry<T>
      l.left = this.root
      l.left.parent = l
    }
    this.root = node
    return node
  }

  // prio_tree_replace(): node takes old's place and children; returns old
  // (whose own links are left stale, as in the kernel).
  private prioReplace (old: Entry<T>, node: Entry<T>): Entry<T> {
    initNode(node)
    if (isRoot(old)) {
      // BUG_ON(root->prio_tree_node != old). index_bits is not reduced.
      if (this.root !== old) throw new Error(`BUG: prio_tree_replace: ${describe(old)} is a stray root`)
      node.parent = node
      this.root = node
    } else {
      const p = old.parent as Entry<T>
      node.parent = p
      if (p.left === old) p.left = node
      else p.right = node
    }
    if (!leftEmpty(old)) {
      node.left = old.left
      old.left.parent = node
    }
    if (!rightEmpty(old)) {
      node.right = old.right
      old.right.parent = node
    }
    return old
  }

  // prio_tree_insert(): returns an existing node with the same indices, or node.
  private prioInsert (newNode: Entry<T>): Entry<T> {
    let node = newNode
    const res = node
    let radixIndex = node.start
    let heapIndex = node.last
    let sizeFlag = false

    if (this.root === null || heapIndex > maxindex(this.indexBits)) {
      return this.prioExpand(node, heapIndex)
    }

    let cur = this.root
    let mask = 2 ** (this.indexBits - 1)

    while (mask !== 0) {
      const rIndex = cur.start
      const hIndex = cur.last

      if (rIndex === radixIndex && hIndex === heapIndex) return cur

      // Heap order: the larger heap_index (then the smaller radix_index) stays
      // above; otherwise node takes cur's place and cur is pushed down instead.
      if (hIndex < heapIndex || (hIndex === heapIndex && rIndex > radixIndex)) {
        const tmp = node
        node = this.prioReplace(cur, node)
        cur = tmp
        // swap indices (cur's own are re-read at the top of the loop)
        radixIndex = rIndex
        heapIndex = hIndex
      }

      // Radix bits of radix_index first; once exhausted, bits 63..0 of the size.
      const index = sizeFlag ? heapIndex - radixIndex : radixIndex

      if (testBit(index, mask)) {
        if (rightEmpty(cur)) {
          initNode(node)
          cur.right = node
          node.parent = cur
          return res
        }
        cur = cur.right
      } else {
        if (leftEmpty(cur)) {
          initNode(node)
          cur.left = node
          node.parent = cur
          return res
        }
        cur = cur.left
      }

      mask = shr1(mask)
      if (mask === 0) {
        mask = TOP_BIT
        sizeFlag = true
      }
    }
    // Should not reach here (BUG()).
    throw new Error('BUG: prio_tree_insert fell out of its loop')
  }

  // prio_tree_remove(): walk down from node along the larger-heap child to a leaf,
  // unlink the leaf, then shift every node on that path up one level.
  private prioRemove (node: Entry<T>): void {
    let cur = node

    while (!leftEmpty(cur) || !rightEmpty(cur)) {
      if (leftEmpty(cur)) {
        cur = cur.right
        continue
      }
      const hIndexLeft = cur.left.last
      if (rightEmpty(cur)) {
        cur = cur.left
        continue
      }
      const hIndexRight = cur.right.last
      // Ties go left: the left subtree holds the smaller radix indices.
      if (hIndexLeft >= hIndexRight) cur = cur.left
      else cur = cur.right
    }

    if (isRoot(cur)) {
      // BUG_ON(root->prio_tree_node != cur); __INIT_PRIO_TREE_ROOT().
      if (this.root !== cur) throw new Error(`BUG: prio_tree_remove: ${describe(cur)} is a stray root`)
      this.root = null
      this.indexBits = 1
      return
    }

    const p = cur.parent as Entry<T>
    if (p.right === cur) p.right = p
    else p.left = p

    while (cur !== node) cur = this.prioReplace(cur.parent as Entry<T>, cur)
  }

  // prio_tree_iter_init() + INIT_PRIO_TREE_ITER()
  private newIter (rIndex: number, hIndex: number, onVisit: ((n: Entry<T>) => void) | null): Iter<T> {
    return { cur: null, mask: 0, value: 0, sizeLevel: 0, rIndex, hIndex, done: false, onVisit }
  }

  // The shared tail of prio_tree_left()/prio_tree_right() after moving down:
  // past radix bit 0 the walk enters the size levels (mask 1UL << 63); past size
  // bit 0 only a leaf can exist (mask ULONG_MAX).
  private descended (it: Iter<T>, cur: Entry<T>): void {
    it.cur = cur
    it.mask = shr1(it.mask)
    if (it.mask !== 0) {
      if (it.sizeLevel !== 0) it.sizeLevel++
    } else if (it.sizeLevel !== 0) {
      // BUG_ON(!prio_tree_left_empty(iter->cur)); BUG_ON(!prio_tree_right_empty(iter->cur))
      if (!leftEmpty(cur) || !rightEmpty(cur)) throw new Error(`BUG: ${describe(cur)} below the last size bit has children`)
      it.sizeLevel++
      it.mask = ULONG_MAX
    } else {
      it.sizeLevel = 1
      it.mask = TOP_BIT
    }
    if (it.onVisit !== null) it.onVisit(cur)
  }

  // prio_tree_left(): descend left unless the whole left subtree ends before r_index.
  private iterLeft (it: Iter<T>): boolean {
    const cur = it.cur as Entry<T>
    if (leftEmpty(cur)) return false
    const l = cur.left
    if (it.rIndex <= l.last) {
      this.descended(it, l)
      return true
    }
    return false
  }

  // prio_tree_right(): value | mask is the smallest radix_index the right subtree
  // can hold (at size levels, value is already the exact radix_index).
  private iterRight (it: Iter<T>): boolean {
    const cur = it.cur as Entry<T>
    if (rightEmpty(cur)) return false
    let value = it.value
    if (it.sizeLevel === 0 && !testBit(value, it.mask)) value += it.mask
    if (it.hIndex < value) return false
    const r = cur.right
    if (it.rIndex <= r.last) {
      it.value = value
      this.descended(it, r)
      return true
    }
    return false
  }

  // prio_tree_parent()
  private iterParent (it: Iter<T>): void {
    const cur = it.cur as Entry<T>
    it.cur = cur.parent as Entry<T>
    if (it.mask === ULONG_MAX) it.mask = 1
    else if (it.sizeLevel === 1) it.mask = 1
    else it.mask *= 2
    if (it.sizeLevel !== 0) it.sizeLevel--
    if (it.sizeLevel === 0 && testBit(it.value, it.mask)) it.value -= it.mask
  }

  // prio_tree_first(): pre-order walk from the root to the first overlapping node.
  private iterFirst (it: Iter<T>): Entry<T> | null {
    it.cur = null
    it.mask = 0
    it.value = 0
    it.sizeLevel = 0

    const root = this.root
    if (root === null) return null
    if (it.rIndex > root.last) return null

    it.mask = 2 ** (this.indexBits - 1)
    it.cur = root
    if (it.onVisit !== null) it.onVisit(root)

    for (;;) {
      if (overlap(it, it.cur)) return it.cur
      if (this.iterLeft(it)) continue
      if (this.iterRight(it)) continue
      break
    }
    return null
  }

  // prio_tree_next()
  private prioNext (it: Iter<T>): Entry<T> | null {
    if (it.done) return null
    const found = it.cur === null ? this.iterFirst(it) : this.iterNextFrom(it)
    if (found === null) it.done = true
    return found
  }

  private iterNextFrom (it: Iter<T>): Entry<T> | null {
    for (;;) { // repeat:
      while (this.iterLeft(it)) {
        if (overlap(it, it.cur as Entry<T>)) return it.cur
      }
      while (!this.iterRight(it)) {
        let cur = it.cur as Entry<T>
        while (!isRoot(cur) && (cur.parent as Entry<T>).right === cur) {
          this.iterParent(it)
          cur = it.cur as Entry<T>
        }
        if (isRoot(cur)) return null
        this.iterParent(it)
      }
      if (overlap(it, it.cur as Entry<T>)) return it.cur
    }
  }

  // ---- validate() ----

  // Radix direction node n must take below a node at `level`: true = right.
  private dirAt (level: number, n: Entry<T>): boolean | null {
    if (level < this.indexBits) return testBit(n.start, 2 ** (this.indexBits - 1 - level))
    const s = level - this.indexBits
    if (s < BITS_PER_LONG) return testBit(n.last - n.start, 2 ** (BITS_PER_LONG - 1 - s))
    return null
  }

  private check (n: Entry<T>, depth: number, ctx: { seen: number, path: boolean[] }): string | null {
    const where = describe(n)
    if (n.owner !== this) return `${where} is not owned by this tree`
    if (!Number.isSafeInteger(n.start) || !Number.isSafeInteger(n.last) || n.start < 0 || n.start > n.last) {
      return `${where} is not a valid interval`
    }
    if (n.last > maxindex(this.indexBits)) return `${where} exceeds index_bits ${this.indexBits}`
    for (let i = 0; i < depth; i++) {
      const d = this.dirAt(i, n)
      if (d !== ctx.path[i]) return `${where} is misplaced at depth ${depth} (level ${i} goes ${ctx.path[i] ? 'right' : 'left'})`
    }
    ctx.seen++
    // The vm_set list hanging off this node.
    const head = n.head
    if (head !== null) {
      if (head.parent !== null) return `${where}: list head is a tree node`
      if (head.head !== n) return `${where}: list head does not point back`
      let e = head
      let k = 0
      do {
        if (e.owner !== this) return `${where}: list member ${describe(e)} is not owned by this tree`
        if (e.start !== n.start || e.last !== n.last) return `${where}: list member ${describe(e)} has other indices`
        if (e.parent !== null) return `${where}: list member ${describe(e)} has a parent`
        if (e !== head && e.head !== null) return `${where}: list member ${describe(e)} has vm_set.head set`
        if (e.next.prev !== e || e.prev.next !== e) return `${where}: list links broken at ${describe(e)}`
        ctx.seen++
        if (++k > this.count) return `${where}: list does not close`
        e = e.next
      } while (e !== head)
    }
    for (const right of [false, true]) {
      const c = right ? n.right : n.left
      if (c === n) continue
      const side = right ? 'right' : 'left'
      if (this.dirAt(depth, c) === null) return `${where}: has a ${side} child below the last size bit`
      if (c.parent !== n) return `${where}: ${side} child's parent pointer is wrong`
      if (!(n.last > c.last || (n.last === c.last && n.start < c.start))) {
        return `${where}: heap order violated by ${side} child ${describe(c)}`
      }
      ctx.path[depth] = right
      const res = this.check(c, depth + 1, ctx)
      if (res !== null) return res
    }
    return null
  }
}

function checkInterval (op: string, start: number, last: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(last) || start < 0 || last < start) {
    throw new RangeError(`PrioTree.${op}: bad interval [${start}, ${last}]`)
  }
}
