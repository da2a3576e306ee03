import { MMAP_BASE, MMAP_MIN_ADDR, PAGE_SIZE, PMD_SIZE, TASK_SIZE } from './constants.js'
import type { Mm } from './mm.js'

/**
 * unmapped_area_topdown() (mm/vma.c): the highest gap below `high` that holds `len` bytes, above
 * mmap_min_addr; null when none does.
 */
export function unmappedAreaTopdown (mm: Mm, len: number, high: number): number | null {
  const low = Math.max(PAGE_SIZE, MMAP_MIN_ADDR)
  let gapEnd = high
  for (let i = mm.vmas.length - 1; i >= -1; i--) {
    const v = i >= 0 ? mm.vmas[i] : undefined
    const gapStart = v === undefined ? low : Math.max(v.end, low)
    if (v !== undefined && v.start >= high) continue
    const end = Math.min(gapEnd, high)
    if (end - gapStart >= len) return end - len
    if (v === undefined) break
    gapEnd = v.start
  }
  return null
}

/** unmapped_area() (mm/vma.c): the lowest gap at or above `low` that holds `len` bytes. */
export function unmappedAreaBottomup (mm: Mm, len: number, low: number, high: number): number | null {
  let addr = low
  for (const v of mm.vmas) {
    if (v.end <= addr) continue
    if (addr + len <= v.start) break
    addr = v.end
  }
  return addr + len <= high ? addr : null
}

/**
 * The modern x86-64 layout (arch/x86/mm/mmap.c, mm/mmap.c __get_unmapped_area): top-down from
 * mmap_base, falling back to bottom-up from TASK_SIZE/3. Private anonymous mappings whose length is
 * a multiple of 2 MiB get thp_get_unmapped_area() alignment: search len + 2 MiB, then round up to a
 * 2 MiB boundary (or, when already aligned, take the top one).
 */
export function getUnmappedAreaModern (mm: Mm, len: number, anonPrivate: boolean): number | null {
  if (anonPrivate && len % PMD_SIZE === 0) {
    const padded = unmappedAreaTopdown(mm, len + PMD_SIZE, MMAP_BASE)
    if (padded !== null) {
      const offSub = (PMD_SIZE - (padded % PMD_SIZE)) % PMD_SIZE
      return offSub === 0 ? padded + PMD_SIZE : padded + offSub
    }
  }
  return unmappedAreaTopdown(mm, len, MMAP_BASE) ??
    unmappedAreaBottomup(mm, len, Math.ceil(TASK_SIZE / 3 / PAGE_SIZE) * PAGE_SIZE, TASK_SIZE)
}

/** TASK_UNMAPPED_64 of 2.6.11 x86-64: PAGE_ALIGN(TASK_SIZE / 3) with its TASK_SIZE of 2^47. */
export const TASK_UNMAPPED_BASE_2611 = Math.ceil(2 ** 47 / 3 / PAGE_SIZE) * PAGE_SIZE

/**
 * 2.6.11 arch/x86_64/kernel/sys_x86_64.c arch_get_unmapped_area(): bottom-up first fit from
 * mm->free_area_cache, restarting once from TASK_UNMAPPED_BASE. (Success moves the cache past the
 * area: the caller does that once the mapping is really made, see KernelModel.noteSearchedArea.)
 */
export function getUnmappedArea2611 (mm: Mm, len: number): number | null {
  const begin = TASK_UNMAPPED_BASE_2611
  const end = 2 ** 47 // include/asm-x86_64/processor.h TASK_SIZE
  if (len > end) return null
  let start = Math.max(mm.freeAreaCache, begin)
  for (;;) {
    const addr = unmappedAreaBottomup(mm, len, start, end)
    if (addr !== null) return addr
    if (start === begin) return null
    start = begin
  }
}
