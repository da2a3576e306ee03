import { hex, PAGE } from '../client.js'

/**
 * A valid 200-op scenario that leaves no state behind: it spawns, maps, writes, forks, COW-writes,
 * mprotects (splitting a VMA), munmaps, dontneeds and refaults, maps and unmaps a second region, then
 * exits every process it made. Names P, C, D are free again at the end, so it can run in a loop.
 */
export function ops200 (): unknown[] {
  const A = 0x10000000
  const B = 0x20000000
  const ops: unknown[] = []
  const w = (proc: string, addr: number, n: number, op = 'write'): void => { for (let i = 0; i < n; i++) ops.push({ op, proc, addr: hex(addr + i * PAGE) }) }
  ops.push({ op: 'spawn', proc: 'P' }) // 1
  ops.push({ op: 'mmap', proc: 'P', addr: hex(A), pages: 64, kind: 'anon' }) // 2
  w('P', A, 64) // 66: 64 anonymous write faults
  ops.push({ op: 'fork', proc: 'P', child: 'C' }) // 67
  w('C', A, 32) // 99: the child's COW copies
  ops.push({ op: 'mprotect', proc: 'P', addr: hex(A), pages: 16, prot: 'r' }) // 100: splits P's VMA
  w('P', A, 16, 'read') // 116
  ops.push({ op: 'munmap', proc: 'C', addr: hex(A + 32 * PAGE), pages: 16 }) // 117: a hole in C
  ops.push({ op: 'fork', proc: 'C', child: 'D' }) // 118: third generation
  w('D', A, 32) // 150: COW of C's private copies
  ops.push({ op: 'mmap', proc: 'D', addr: hex(B), pages: 32, kind: 'anon' }) // 151
  w('D', B, 32) // 183
  ops.push({ op: 'munmap', proc: 'D', addr: hex(B), pages: 32 }) // 184
  ops.push({ op: 'mprotect', proc: 'C', addr: hex(A), pages: 8, prot: 'none' }) // 185
  ops.push({ op: 'dontneed', proc: 'P', addr: hex(A + 48 * PAGE), pages: 16 }) // 186
  w('P', A + 48 * PAGE, 10) // 196: refaults after MADV_DONTNEED
  ops.push({ op: 'exit', proc: 'D' }) // 197
  ops.push({ op: 'exit', proc: 'C' }) // 198
  ops.push({ op: 'munmap', proc: 'P', addr: hex(A), pages: 64 }) // 199
  ops.push({ op: 'exit', proc: 'P' }) // 200
  if (ops.length !== 200) throw new Error(`ops200 has ${ops.length} ops`)
  return ops
}
