/**
 * Page-table entries, one float64 each: `pfn * 4096 + low bits` (exact for any PFN below 2^41).
 *
 * Present entries use the x86-64 bit positions (arch/x86/include/asm/pgtable_types.h): PRESENT, RW,
 * USER, ACCESSED, DIRTY, SPECIAL (_PAGE_BIT_SOFTW1) and PROTNONE (_PAGE_BIT_GLOBAL reused for
 * PROT_NONE mappings). NX lives in bit 63 on x86, which a float64 cannot hold next to the PFN, so the
 * simulator keeps it in bit 11 and moves it to bit 63 only when it prints the raw value.
 *
 * Non-present entries (swap and migration) are the simulator's own encoding: bit 0 clear, a tag in
 * bits 1-2, flags in bits 3-5 and the swap offset (or, for migration, the PFN) above bit 12.
 */
export const PTE_PRESENT = 0x1
export const PTE_RW = 0x2
export const PTE_USER = 0x4
export const PTE_ACCESSED = 0x20
export const PTE_DIRTY = 0x40
export const PTE_PROTNONE = 0x100
export const PTE_SPECIAL = 0x200
export const PTE_NX = 0x800

export const SWP_TAG_SWAP = 0x2
export const SWP_TAG_MIGRATION = 0x4
/** pte_swp_exclusive(): the swapped-out page was PageAnonExclusive (mm/rmap.c try_to_unmap_one). */
export const SWP_EXCLUSIVE = 0x8
/** A writable migration entry (make_writable_migration_entry) restores a writable PTE. */
export const SWP_MIG_WRITE = 0x10
export const SWP_MIG_YOUNG = 0x20
export const SWP_MIG_DIRTY = 0x40

const LOW = 4096
// The low 12 bits of an entry are `pte & 0xfff`: ToInt32 keeps the value modulo 2^32, a multiple of
// 4096, so this is exact for every entry (below 2^53) and far cheaper than `%` on a float64.

export const pteNone = (pte: number): boolean => pte === 0
export const pteBits = (pte: number): number => (pte & 0xfff)
export const ptePfn = (pte: number): number => (pte - (pte & 0xfff)) / LOW
/** pte_present() on x86 is true for PROT_NONE entries too: the page is still mapped. */
export const pteMapped = (pte: number): boolean => pte !== 0 && ((pte & 0xfff) & (PTE_PRESENT | PTE_PROTNONE)) !== 0
export const pteIsSwap = (pte: number): boolean => pte !== 0 && ((pte & 0xfff) & 0x7) === SWP_TAG_SWAP
export const pteIsMigration = (pte: number): boolean => pte !== 0 && ((pte & 0xfff) & 0x7) === SWP_TAG_MIGRATION
export const pteWrite = (pte: number): boolean => ((pte & 0xfff) & PTE_RW) !== 0
export const pteYoung = (pte: number): boolean => ((pte & 0xfff) & PTE_ACCESSED) !== 0
export const pteDirty = (pte: number): boolean => ((pte & 0xfff) & PTE_DIRTY) !== 0

export const makePte = (pfn: number, bits: number): number => pfn * LOW + bits
export const setBits = (pte: number, bits: number): number => pte - ((pte & 0xfff)) + (((pte & 0xfff)) | bits)
export const clearBits = (pte: number, bits: number): number => pte - ((pte & 0xfff)) + (((pte & 0xfff)) & ~bits)
export const makeSwapPte = (offset: number, exclusive: boolean): number =>
  offset * LOW + SWP_TAG_SWAP + (exclusive ? SWP_EXCLUSIVE : 0)
/** The swap offset or migration PFN of a non-present entry. */
export const swpOffset = (pte: number): number => (pte - (pte & 0xfff)) / LOW

export type PteKind = 'none' | 'present' | 'protnone' | 'swap' | 'migration'

export interface DecodedPte {
  kind: PteKind
  /** The value the session's kernel would hold (PteLayout): x86-64 bits, NX in bit 63; the modern model shows non-present entries in the simulator's own encoding. */
  raw: string
  pfn?: number
  present?: boolean
  writable?: boolean
  user?: boolean
  accessed?: boolean
  dirty?: boolean
  special?: boolean
  noExec?: boolean
  swapOffset?: number
  exclusive?: boolean
}

export function pteKind (pte: number): PteKind {
  if (pte === 0) return 'none'
  const bits = (pte & 0xfff)
  if (bits & PTE_PRESENT) return 'present'
  if (bits & PTE_PROTNONE) return 'protnone'
  if ((bits & 0x7) === SWP_TAG_SWAP) return 'swap'
  return 'migration'
}

/**
 * How a kernel lays its entries out, for printing: the simulator keeps one encoding (above) and shows
 * each entry in the bits of the session's kernel.
 */
export interface PteLayout {
  readonly name: string
  /** The value this kernel would hold, as a hex string. */
  raw: (pte: number) => string
  /** The kernel has _PAGE_SPECIAL (2.6.11 does not). */
  readonly special: boolean
  /** Swap entries carry an exclusive bit (pte_swp_exclusive, 5.19+). */
  readonly swapExclusive: boolean
}

/** NX moves to bit 63, prefixed to the 60 low bits (a float64 cannot hold it beside the PFN). */
function presentRaw (pte: number, low12: number): string {
  const value = pte - (pte & 0xfff) + low12
  const low = (value - ((low12 & PTE_NX) !== 0 ? PTE_NX : 0)).toString(16)
  return (low12 & PTE_NX) === 0 ? '0x' + low : '0x8' + low.padStart(15, '0')
}

/** Modern x86-64 (arch/x86/include/asm/pgtable_types.h): _PAGE_PROTNONE is _PAGE_GLOBAL (0x100). */
export const X86_64_PTE: PteLayout = {
  name: 'x86-64 (arch/x86/include/asm/pgtable_types.h)',
  raw (pte) {
    if (pte === 0) return '0x0'
    const bits = (pte & 0xfff)
    if ((bits & (PTE_PRESENT | PTE_PROTNONE)) === 0) return '0x' + pte.toString(16)
    return presentRaw(pte, bits)
  },
  special: true,
  swapExclusive: true
}

/**
 * 2.6.11 x86-64 (include/asm-x86_64/pgtable.h): _PAGE_PROTNONE is 0x080, and a swap entry is
 * __swp_entry(type, offset) = type << 1 | offset << 8 (one swap device: type 0).
 */
export const X86_64_2611_PTE: PteLayout = {
  name: 'x86-64 2.6.11 (include/asm-x86_64/pgtable.h)',
  raw (pte) {
    if (pte === 0) return '0x0'
    const bits = (pte & 0xfff)
    if ((bits & (PTE_PRESENT | PTE_PROTNONE)) === 0) return '0x' + (swpOffset(pte) * 256).toString(16)
    const low12 = (bits & ~(PTE_PROTNONE | PTE_SPECIAL)) | ((bits & PTE_PROTNONE) !== 0 ? 0x080 : 0)
    return presentRaw(pte, low12)
  },
  special: false,
  swapExclusive: false
}

/** The value a modern kernel would hold, as a hex string. */
export const rawPte = (pte: number): string => X86_64_PTE.raw(pte)

export function decodePte (pte: number, layout: PteLayout = X86_64_PTE): DecodedPte {
  const kind = pteKind(pte)
  const raw = layout.raw(pte)
  if (kind === 'none') return { kind, raw }
  const bits = (pte & 0xfff)
  if (kind === 'swap') {
    return layout.swapExclusive ? { kind, raw, swapOffset: swpOffset(pte), exclusive: (bits & SWP_EXCLUSIVE) !== 0 } : { kind, raw, swapOffset: swpOffset(pte) }
  }
  if (kind === 'migration') {
    return { kind, raw, pfn: swpOffset(pte), writable: (bits & SWP_MIG_WRITE) !== 0 }
  }
  // Two literal shapes rather than a `delete`: objects stay fast (one hidden class each).
  if (!layout.special) {
    return { kind, raw, pfn: ptePfn(pte), present: (bits & PTE_PRESENT) !== 0, writable: (bits & PTE_RW) !== 0, user: (bits & PTE_USER) !== 0, accessed: (bits & PTE_ACCESSED) !== 0, dirty: (bits & PTE_DIRTY) !== 0, noExec: (bits & PTE_NX) !== 0 }
  }
  return {
    kind,
    raw,
    pfn: ptePfn(pte),
    present: (bits & PTE_PRESENT) !== 0,
    writable: (bits & PTE_RW) !== 0,
    user: (bits & PTE_USER) !== 0,
    accessed: (bits & PTE_ACCESSED) !== 0,
    dirty: (bits & PTE_DIRTY) !== 0,
    special: (bits & PTE_SPECIAL) !== 0,
    noExec: (bits & PTE_NX) !== 0
  }
}
