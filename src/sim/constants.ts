/** x86-64 with 4 KiB pages and 4-level paging (arch/x86/include/asm/page_types.h, pgtable_64_types.h). */
export const PAGE_SHIFT = 12
export const PAGE_SIZE = 4096
/** Entries per table at every level (PTRS_PER_PGD/PUD/PMD/PTE). */
export const PTRS_PER_TABLE = 512
/** Bytes mapped by one PTE table (PMD_SIZE) and one PMD table (PUD_SIZE). */
export const PMD_SIZE = PAGE_SIZE * PTRS_PER_TABLE
export const PUD_SIZE = PMD_SIZE * PTRS_PER_TABLE
export const PGDIR_SIZE = PUD_SIZE * PTRS_PER_TABLE
/** TASK_SIZE_MAX for 47-bit user space: (1 << 47) - PAGE_SIZE (arch/x86/include/asm/page_64_types.h). */
export const TASK_SIZE = 2 ** 47 - PAGE_SIZE
/** Lowest address mmap may hand out (vm.mmap_min_addr default, security/Kconfig DEFAULT_MMAP_MIN_ADDR). */
export const MMAP_MIN_ADDR = 0x10000
/**
 * mmap_base with randomisation off (arch/x86/mm/mmap.c mmap_base()): the 8 MiB stack rlimit plus the
 * 1 MiB stack_guard_gap is clamped up to the 128 MiB minimum gap, so mmap_base = TASK_SIZE - 128 MiB.
 */
export const MMAP_BASE = TASK_SIZE - 128 * 1024 * 1024

export const pagesToBytes = (pages: number): number => pages * PAGE_SIZE
export const bytesToPages = (bytes: number): number => Math.floor(bytes / PAGE_SIZE)
export const isPageAligned = (addr: number): boolean => addr % PAGE_SIZE === 0
export const pageDown = (addr: number): number => addr - (addr % PAGE_SIZE)

export const hex = (n: number): string => '0x' + n.toString(16)
