import { IntervalTree, type IntervalNode } from './interval-tree.js'
import type { Vma } from './vma.js'

/**
 * struct anon_vma. The 2.6.11 model uses `vmas`, its list of VMAs (`head` in the diagram); the modern
 * model uses `root`, `parent`, the counters and `tree`, the interval tree of anon_vma_chains keyed by
 * each VMA's pgoff range (mm/rmap.c).
 */
export class AnonVma {
  readonly id: number
  root: AnonVma
  parent: AnonVma
  /** 2.6.11: the list of VMAs, in list order (list_add puts new ones at the head). */
  readonly vmas: Vma[] = []
  /** Modern: anon_vma->rb_root. */
  readonly tree = new IntervalTree<AnonVmaChain>()
  /** Modern: children anon_vmas (num_children) and VMAs whose vma->anon_vma is this (num_active_vmas). */
  numChildren = 0
  numActiveVmas = 0
  /** Holders keeping the structure alive: AVCs / list entries, plus children's root references. */
  refcount = 0
  /** Pages whose mapping points here (a page pins its anon_vma in the simulator's bookkeeping). */
  pages = 0

  constructor (id: number) {
    this.id = id
    this.root = this
    this.parent = this
  }
}

/** struct anon_vma_chain: one link between a VMA and an anon_vma. */
export interface AnonVmaChain {
  readonly vma: Vma
  readonly anonVma: AnonVma
  node: IntervalNode<AnonVmaChain> | null
}
