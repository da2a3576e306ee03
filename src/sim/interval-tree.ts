/**
 * Augmented red-black interval tree of closed intervals [start, last].
 *
 * Mirrors include/linux/interval_tree_generic.h (INTERVAL_TREE_DEFINE) on top of
 * lib/rbtree.c and include/linux/rbtree_augmented.h, as instantiated by
 * mm/interval_tree.c for mapping->i_mmap (VMAs keyed vm_pgoff .. vm_pgoff + pages - 1)
 * and anon_vma->rb_root (anon_vma_chains keyed the same way).
 *
 * Every node carries `subtreeLast` (the kernel's __subtree_last): the maximum `last`
 * in its subtree, which lets overlap queries prune whole subtrees.
 *
 * Values are plain JS numbers (page offsets up to 2^40), so no bitwise ops anywhere.
 */

/** A handle returned by insert(); pass it back to remove(). */
export interface IntervalNode<T> {
  readonly start: number
  readonly last: number
  readonly value: T
}

class Node<T> implements IntervalNode<T> {
  left: Node<T> | null = null
  right: Node<T> | null = null
  parent: Node<T> | null = null
  // New nodes are red, as rb_link_node() + __rb_insert() expect.
  red = true
  subtreeLast: number
  // Lets remove() reject foreign or already-removed nodes in O(1).
  owner: IntervalTree<T> | null

  constructor (
    readonly value: T,
    readonly start: number,
    readonly last: number,
    owner: IntervalTree<T>
  ) {
    this.subtreeLast = last
    this.owner = owner
  }
}

function isRed<T> (n: Node<T> | null): boolean {
  return n !== null && n.red
}

// The ITSUBTREE compute callback (RB_DECLARE_CALLBACKS_MAX in rbtree_augmented.h).
function computeSubtreeLast<T> (n: Node<T>): number {
  let max = n.last
  if (n.left !== null && n.left.subtreeLast > max) max = n.left.subtreeLast
  if (n.right !== null && n.right.subtreeLast > max) max = n.right.subtreeLast
  return max
}

function describe (n: IntervalNode<unknown>): string {
  return `node [${n.start}, ${n.last}]`
}

export class IntervalTree<T> {
  private root: Node<T> | null = null
  private count = 0

  get size (): number {
    return this.count
  }

  isEmpty (): boolean {
    return this.root === null
  }

  /**
   * Insert [start, last]. Equal starts go right of existing ones (the kernel's
   * `if (start < ITSTART(parent)) left else right`), so iteration among equal
   * starts follows insertion order.
   */
  insert (value: T, start: number, last: number): IntervalNode<T> {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(last) || last < start) {
      throw new RangeError(`IntervalTree.insert: bad interval [${start}, ${last}]`)
    }
    const node = new Node(value, start, last, this)
    let parent: Node<T> | null = null
    let cur = this.root
    let goLeft = false
    while (cur !== null) {
      // Like interval_tree_generic.h, widen ancestors on the way down so the
      // augmentation is right before rebalancing rotates anything.
      if (cur.subtreeLast < last) cur.subtreeLast = last
      parent = cur
      goLeft = start < cur.start
      cur = goLeft ? cur.left : cur.right
    }
    node.parent = parent
    if (parent === null) this.root = node
    else if (goLeft) parent.left = node
    else parent.right = node
    this.count++
    this.insertFixup(node)
    return node
  }

  /**
   * mm/interval_tree.c vma_interval_tree_insert_after(): `value` (same start as `prev`) goes right
   * after `prev` in iteration order: as prev's right child, or as the leftmost node of prev's right
   * subtree, widening the augmentation on the way down, then rebalanced.
   */
  insertAfter (value: T, start: number, last: number, prev: IntervalNode<T>): IntervalNode<T> {
    const p = prev as Node<T>
    if (p.owner !== this || p.start !== start || !Number.isSafeInteger(last) || last < start) {
      throw new Error(`IntervalTree.insertAfter: [${start}, ${last}] cannot follow ${describe(prev)}`)
    }
    const node = new Node(value, start, last, this)
    let parent: Node<T>
    let asLeft: boolean
    if (p.right === null) {
      parent = p
      asLeft = false
    } else {
      parent = p.right
      if (parent.subtreeLast < last) parent.subtreeLast = last
      while (parent.left !== null) {
        parent = parent.left
        if (parent.subtreeLast < last) parent.subtreeLast = last
      }
      asLeft = true
    }
    // Ancestors above the path widen too (rb_insert_augmented propagates from the new node).
    for (let a: Node<T> | null = parent; a !== null; a = a.parent) if (a.subtreeLast < last) a.subtreeLast = last
    node.parent = parent
    if (asLeft) parent.left = node
    else parent.right = node
    this.count++
    this.insertFixup(node)
    return node
  }

  /** Remove a node returned by insert() on this tree; throws for any other node. */
  remove (node: IntervalNode<T>): void {
    const z = node as Node<T>
    if (z.owner !== this) {
      throw new Error(`IntervalTree.remove: ${describe(node)} is not in this tree`)
    }
    // Structural part of lib/rbtree.c __rb_erase_augmented().
    const zl = z.left
    const zr = z.right
    let child: Node<T> | null
    let parent: Node<T> | null
    let removedBlack: boolean
    if (zl === null || zr === null) {
      child = zl === null ? zr : zl
      parent = z.parent
      removedBlack = !z.red
      this.replaceChild(z, child)
      this.propagate(parent, null)
    } else {
      // Two children: the in-order successor y takes z's place and colour.
      let y = zr
      while (y.left !== null) y = y.left
      removedBlack = !y.red
      child = y.right
      if (y === zr) {
        parent = y
      } else {
        parent = y.parent as Node<T>
        parent.left = child
        if (child !== null) child.parent = parent
        y.right = zr
        zr.parent = y
      }
      this.replaceChild(z, y)
      y.left = zl
      zl.parent = y
      y.red = z.red
      // Augment "copy" then two propagations, as the kernel does: y's stored
      // value must be what its new ancestors were computed from, or the
      // early-stopping propagate() could stop too soon.
      y.subtreeLast = z.subtreeLast
      this.propagate(parent, y)
      this.propagate(y, null)
    }
    if (removedBlack) this.removeFixup(child, parent)
    this.count--
    z.owner = null
    z.left = z.right = z.parent = null
  }

  /**
   * Every value whose interval overlaps [start, last] (both inclusive), in
   * ascending start order (insertion order among equal starts); O(log n + k).
   * Removing the node just yielded is safe; other mutations during iteration are not.
   */
  * query (start: number, last: number): Generator<T> {
    let n = this.iterFirst(start, last)
    while (n !== null) {
      // Fetch the successor first so the caller may remove n.
      const next = this.iterNext(n, start, last)
      yield n.value
      n = next
    }
  }

  /** Same as query() without allocating a generator, for hot paths. */
  forEachOverlap (start: number, last: number, fn: (value: T, node: IntervalNode<T>) => void): void {
    let n = this.iterFirst(start, last)
    while (n !== null) {
      const next = this.iterNext(n, start, last)
      fn(n.value, n)
      n = next
    }
  }

  /** All values in ascending start order. Removing the node just yielded is safe. */
  * values (): Generator<T> {
    let n = this.root
    if (n !== null) while (n.left !== null) n = n.left
    while (n !== null) {
      const next = successor(n)
      yield n.value
      n = next
    }
  }

  /**
   * Check red-black properties, BST order, parent pointers, the subtreeLast
   * augmentation and size. Returns the first violation found, or null.
   */
  validate (): string | null {
    const root = this.root
    if (root === null) {
      return this.count === 0 ? null : `size is ${this.count} but the tree is empty`
    }
    if (root.parent !== null) return 'root has a parent pointer'
    if (root.red) return 'root is red'
    const ctx = { prevStart: -Infinity, seen: 0 }
    const res = this.check(root, ctx)
    if (typeof res === 'string') return res
    if (ctx.seen !== this.count) return `size is ${this.count} but the tree holds ${ctx.seen} nodes`
    return null
  }

  // Returns the black height of n's subtree, or a description of a violation.
  private check (n: Node<T>, ctx: { prevStart: number, seen: number }): number | string {
    const where = describe(n)
    if (n.owner !== this) return `${where} is not owned by this tree`
    if (!(n.start <= n.last)) return `${where} has start > last`
    const l = n.left
    const r = n.right
    // Checking parent pointers before descending also catches cycles.
    if (l !== null && l.parent !== n) return `${where}: left child's parent pointer is wrong`
    if (r !== null && r.parent !== n) return `${where}: right child's parent pointer is wrong`
    if (n.red && (isRed(l) || isRed(r))) return `${where}: red node has a red child`
    const lh = l === null ? 0 : this.check(l, ctx)
    if (typeof lh === 'string') return lh
    if (n.start < ctx.prevStart) return `${where}: out of order (follows start ${ctx.prevStart})`
    ctx.prevStart = n.start
    ctx.seen++
    const rh = r === null ? 0 : this.check(r, ctx)
    if (typeof rh === 'string') return rh
    if (lh !== rh) return `${where}: black heights differ (left ${lh}, right ${rh})`
    const expect = computeSubtreeLast(n)
    if (n.subtreeLast !== expect) return `${where}: subtreeLast is ${n.subtreeLast}, expected ${expect}`
    return lh + (n.red ? 0 : 1)
  }

  // interval_tree_iter_first()
  private iterFirst (start: number, last: number): Node<T> | null {
    const root = this.root
    if (root === null || !(start <= last) || root.subtreeLast < start) return null
    return subtreeSearch(root, start, last)
  }

  // interval_tree_iter_next(): in-order walk from node, pruned by subtreeLast.
  private iterNext (node: Node<T>, start: number, last: number): Node<T> | null {
    let n = node
    let rb = n.right
    for (;;) {
      // Invariant: n.start <= last and rb === n.right.
      if (rb !== null && start <= rb.subtreeLast) return subtreeSearch(rb, start, last)
      // Climb until we arrive from a left child.
      let prev: Node<T>
      do {
        const p: Node<T> | null = n.parent
        if (p === null) return null
        prev = n
        n = p
        rb = n.right
      } while (prev === rb)
      if (last < n.start) return null
      if (start <= n.last) return n
    }
  }

  private replaceChild (old: Node<T>, replacement: Node<T> | null): void {
    const p = old.parent
    if (p === null) this.root = replacement
    else if (p.left === old) p.left = replacement
    else p.right = replacement
    if (replacement !== null) replacement.parent = p
  }

  // Augmented rotations: the new subtree root inherits the old root's
  // subtreeLast (same node set), only the demoted node is recomputed
  // (the augment_rotate callback).
  private rotateLeft (x: Node<T>): void {
    const y = x.right as Node<T>
    const b = y.left
    x.right = b
    if (b !== null) b.parent = x
    this.replaceChild(x, y)
    y.left = x
    x.parent = y
    y.subtreeLast = x.subtreeLast
    x.subtreeLast = computeSubtreeLast(x)
  }

  private rotateRight (x: Node<T>): void {
    const y = x.left as Node<T>
    const b = y.right
    x.left = b
    if (b !== null) b.parent = x
    this.replaceChild(x, y)
    y.right = x
    x.parent = y
    y.subtreeLast = x.subtreeLast
    x.subtreeLast = computeSubtreeLast(x)
  }

  // augment_propagate: recompute upwards, stopping early once a value holds.
  private propagate (from: Node<T> | null, stop: Node<T> | null): void {
    let n = from
    while (n !== null && n !== stop) {
      const v = computeSubtreeLast(n)
      if (v === n.subtreeLast) break
      n.subtreeLast = v
      n = n.parent
    }
  }

  // lib/rbtree.c __rb_insert()
  private insertFixup (node: Node<T>): void {
    let z = node
    for (;;) {
      let p = z.parent
      if (p === null) {
        z.red = false
        return
      }
      if (!p.red) return
      // A red parent is never the root, so the grandparent exists.
      const g = p.parent as Node<T>
      if (p === g.left) {
        const u = g.right
        if (u !== null && u.red) {
          p.red = false
          u.red = false
          g.red = true
          z = g
          continue
        }
        if (z === p.right) {
          this.rotateLeft(p)
          z = p
          p = z.parent as Node<T>
        }
        p.red = false
        g.red = true
        this.rotateRight(g)
        return
      } else {
        const u = g.left
        if (u !== null && u.red) {
          p.red = false
          u.red = false
          g.red = true
          z = g
          continue
        }
        if (z === p.left) {
          this.rotateRight(p)
          z = p
          p = z.parent as Node<T>
        }
        p.red = false
        g.red = true
        this.rotateLeft(g)
        return
      }
    }
  }

  // lib/rbtree.c ____rb_erase_color(): x is one black short; x may be null,
  // hence the explicit parent. The sibling always exists (black height >= 1).
  private removeFixup (child: Node<T> | null, parentNode: Node<T> | null): void {
    let x = child
    let parent = parentNode
    while (parent !== null && !isRed(x)) {
      if (x === parent.left) {
        let w = parent.right as Node<T>
        if (w.red) {
          w.red = false
          parent.red = true
          this.rotateLeft(parent)
          w = parent.right as Node<T>
        }
        if (!isRed(w.left) && !isRed(w.right)) {
          w.red = true
          x = parent
          parent = x.parent
        } else {
          if (!isRed(w.right)) {
            (w.left as Node<T>).red = false
            w.red = true
            this.rotateRight(w)
            w = parent.right as Node<T>
          }
          w.red = parent.red
          parent.red = false;
          (w.right as Node<T>).red = false
          this.rotateLeft(parent)
          return
        }
      } else {
        let w = parent.left as Node<T>
        if (w.red) {
          w.red = false
          parent.red = true
          this.rotateRight(parent)
          w = parent.left as Node<T>
        }
        if (!isRed(w.left) && !isRed(w.right)) {
          w.red = true
          x = parent
          parent = x.parent
        } else {
          if (!isRed(w.left)) {
            (w.right as Node<T>).red = false
            w.red = true
            this.rotateLeft(w)
            w = parent.left as Node<T>
          }
          w.red = parent.red
          parent.red = false;
          (w.left as Node<T>).red = false
          this.rotateRight(parent)
          return
        }
      }
    }
    if (x !== null) x.red = false
  }
}

// interval_tree_subtree_search(): leftmost node in n's subtree overlapping
// [start, last]; the caller guarantees start <= n.subtreeLast.
function subtreeSearch<T> (node: Node<T>, start: number, last: number): Node<T> | null {
  let n = node
  for (;;) {
    const l = n.left
    if (l !== null && start <= l.subtreeLast) {
      // Some left-subtree node ends at or after start. Its leftmost such node
      // is the match if it starts by `last`; if not, nothing to its right can.
      n = l
      continue
    }
    if (n.start <= last) {
      if (start <= n.last) return n
      const r = n.right
      if (r !== null && start <= r.subtreeLast) {
        n = r
        continue
      }
    }
    return null
  }
}

// In-order successor (rb_next()).
function successor<T> (node: Node<T>): Node<T> | null {
  let n = node
  if (n.right !== null) {
    n = n.right
    while (n.left !== null) n = n.left
    return n
  }
  let p = n.parent
  while (p !== null && n === p.right) {
    n = p
    p = p.parent
  }
  return p
}
