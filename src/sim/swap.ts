import { LimitError } from './errors.js'

/**
 * One swap device: swap_map (how many swap PTEs refer to each slot) and the swap cache (slot -> the
 * frame holding that slot's data in memory). Slot 0 is the swap header, as in mm/swapfile.c; a new slot
 * is the lowest free one, so allocation is deterministic.
 */
export class SwapSpace {
  readonly map = new Map<number, number>()
  readonly cache = new Map<number, number>()
  /** The slot of each swap-cache frame (page->private in the kernel). */
  readonly slotOfPfn = new Map<number, number>()
  private readonly freed: number[] = []
  private next = 1

  constructor (readonly maxSlots: number) {}

  get used (): number { return this.map.size }

  ensureAvailable (n: number): void {
    if (this.map.size + n > this.maxSlots) throw new LimitError(`swap is full: ${this.map.size} of ${this.maxSlots} slots in use`)
  }

  /** get_swap_page(): a free slot, held by the swap cache until its frame leaves it. */
  alloc (): number {
    this.ensureAvailable(1)
    let slot: number
    if (this.freed.length > 0) {
      // lowest freed slot first
      let best = 0
      for (let i = 1; i < this.freed.length; i++) if (this.freed[i] < this.freed[best]) best = i
      slot = this.freed[best]
      this.freed[best] = this.freed[this.freed.length - 1]
      this.freed.pop()
    } else {
      slot = this.next++
    }
    this.map.set(slot, 0)
    return slot
  }

  count (slot: number): number { return this.map.get(slot) ?? 0 }

  /** swap_duplicate(): one more swap PTE refers to the slot. */
  dup (slot: number): void { this.map.set(slot, this.count(slot) + 1) }

  /** swap_free(): one swap PTE fewer; the slot is released when nothing (cache included) holds it. */
  put (slot: number): void {
    const n = this.count(slot) - 1
    this.map.set(slot, n)
    if (n === 0 && !this.cache.has(slot)) this.release(slot)
  }

  addToCache (slot: number, pfn: number): void {
    this.cache.set(slot, pfn)
    this.slotOfPfn.set(pfn, slot)
  }

  /** delete_from_swap_cache(): the frame leaves the cache; the slot goes too if no PTE refers to it. */
  removeFromCache (slot: number): void {
    const pfn = this.cache.get(slot)
    if (pfn !== undefined) this.slotOfPfn.delete(pfn)
    this.cache.delete(slot)
    if (this.count(slot) === 0) this.release(slot)
  }

  /** Rebinds a cached slot to another frame (migration). */
  moveCache (slot: number, pfn: number): void {
    const old = this.cache.get(slot)
    if (old !== undefined) this.slotOfPfn.delete(old)
    this.cache.set(slot, pfn)
    this.slotOfPfn.set(pfn, slot)
  }

  snapshot (): { next: number, freed: number[], map: Array<[number, number]>, cache: Array<[number, number]> } {
    return { next: this.next, freed: [...this.freed], map: [...this.map], cache: [...this.cache] }
  }

  restore (s: { next: number, freed: number[], map: Array<[number, number]>, cache: Array<[number, number]> }): void {
    this.next = s.next
    this.freed.length = 0
    this.freed.push(...s.freed)
    this.map.clear(); this.cache.clear(); this.slotOfPfn.clear()
    for (const [k, v] of s.map) this.map.set(k, v)
    for (const [k, v] of s.cache) this.addToCache(k, v)
  }

  private release (slot: number): void {
    this.map.delete(slot)
    this.freed.push(slot)
  }
}
