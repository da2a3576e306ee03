import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Simulator } from '../../src/sim/index.js'
import { median } from '../stats.js'
import { skipped, type Skipped } from '../types.js'

/**
 * The same sequence on the real kernel and on the engine: mmap N anonymous pages, write each once,
 * fork, the child writes every page (COW) and exits, the parent waits, then munmaps. Phases are timed
 * with clock_gettime(CLOCK_MONOTONIC) (the child's times come back through a pipe).
 */

const C_SOURCE = String.raw`
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  int reps = argc > 2 ? atoi(argv[2]) : 5;
  long page = sysconf(_SC_PAGESIZE);
  size_t len = (size_t)n * page;
  for (int r = 0; r < reps; r++) {
    double t0 = now_ms();
    volatile char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
#ifdef MADV_NOHUGEPAGE
    madvise((void *)p, len, MADV_NOHUGEPAGE); /* 4 KiB pages, as the engine models */
#endif
    double t1 = now_ms();
    for (long i = 0; i < n; i++) p[i * page] = 1;
    double t2 = now_ms();
    int fd[2];
    if (pipe(fd) != 0) { perror("pipe"); return 1; }
    double t3 = now_ms();
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 1; }
    if (pid == 0) {
      double c0 = now_ms();
      for (long i = 0; i < n; i++) p[i * page] = 2;
      double c1 = now_ms();
      double msg[2] = { c0, c1 };
      if (write(fd[1], msg, sizeof msg) != sizeof msg) _exit(2);
      _exit(0);
    }
    double t4 = now_ms();
    int status;
    waitpid(pid, &status, 0);
    double t5 = now_ms();
    double msg[2] = { 0, 0 };
    if (read(fd[0], msg, sizeof msg) != sizeof msg || !WIFEXITED(status) || WEXITSTATUS(status) != 0) { fprintf(stderr, "child failed\n"); return 1; }
    close(fd[0]); close(fd[1]);
    double t6 = now_ms();
    munmap((void *)p, len);
    double t7 = now_ms();
    printf("{\"mmap\":%.6f,\"touch\":%.6f,\"fork\":%.6f,\"cow\":%.6f,\"exit\":%.6f,\"munmap\":%.6f}\n",
      t1 - t0, t2 - t1, t4 - t3, msg[1] - msg[0], t5 - msg[1], t7 - t6);
  }
  return 0;
}
`

export const PHASES = ['mmap', 'touch', 'fork', 'cow', 'exit', 'munmap'] as const
export type Phase = typeof PHASES[number]
export type PhaseTimes = Record<Phase, number>

export const PHASE_NOTES: Record<Phase, string> = {
  mmap: 'mmap of N anonymous pages (no page touched)',
  touch: 'parent writes each page once (anonymous write faults)',
  fork: 'fork(): the parent side, PTEs copied and write-protected',
  cow: 'child writes every page (COW copies)',
  exit: "child exit + parent's wait (kernel: from the child's last write to waitpid's return)",
  munmap: 'parent munmaps the region'
}

export interface KernelResult {
  pages: number
  reps: number
  uname: string
  thp: string
  kernelMs: PhaseTimes
  engineMs: PhaseTimes
  /** engine time / kernel time per phase, medians (below 1: the engine is faster). */
  ratio: PhaseTimes
  /** Fastest run of each (noise only ever adds time). */
  kernelMin: PhaseTimes
  engineMin: PhaseTimes
  ratioMin: PhaseTimes
  kernelSamples: PhaseTimes[]
  engineSamples: PhaseTimes[]
  /** fork throughput in PTEs/s (medians, and best runs). */
  kernelForkPtesPerSec: number
  engineForkPtesPerSec: number
  kernelForkPtesPerSecBest: number
  engineForkPtesPerSecBest: number
  compiler: string
}

function medianTimes (samples: PhaseTimes[]): PhaseTimes {
  const out = {} as PhaseTimes
  for (const p of PHASES) out[p] = median(samples.map((s) => s[p]))
  return out
}

function minTimes (samples: PhaseTimes[]): PhaseTimes {
  const out = {} as PhaseTimes
  for (const p of PHASES) out[p] = Math.min(...samples.map((s) => s[p]))
  return out
}

function engineOnce (n: number): PhaseTimes {
  const sim = new Simulator({ version: '6.18', limits: { maxFrames: 2 * n + Math.ceil(n / 256) + 1024, maxProcesses: 16 } })
  const base = 0x10000000
  const P = 4096
  const parent = sim.spawn({ name: 'P' }).pid
  const t0 = performance.now()
  sim.mmap({ pid: parent, addr: base, pages: n })
  const t1 = performance.now()
  for (let i = 0; i < n; i++) sim.write({ pid: parent, addr: base + i * P })
  const t2 = performance.now()
  const child = sim.fork({ pid: parent, child: 'C' }).pid
  const t3 = performance.now()
  for (let i = 0; i < n; i++) sim.write({ pid: child, addr: base + i * P })
  const t4 = performance.now()
  sim.exit({ pid: child })
  const t5 = performance.now()
  sim.munmap({ pid: parent, addr: base, pages: n })
  const t6 = performance.now()
  return { mmap: t1 - t0, touch: t2 - t1, fork: t3 - t2, cow: t4 - t3, exit: t5 - t4, munmap: t6 - t5 }
}

export function kernelComparison (pages: number, reps: number, log: (s: string) => void): KernelResult | Skipped {
  if (process.platform !== 'linux') return skipped(`kernel comparison skipped: this is ${process.platform}, not Linux`)
  const cc = spawnSync('cc', ['--version'], { encoding: 'utf8' })
  if (cc.error !== undefined || cc.status !== 0) return skipped('kernel comparison skipped: no C compiler (`cc`) on this machine')
  const dir = mkdtempSync(join(os.tmpdir(), 'rmap-load-kernel-'))
  try {
    writeFileSync(join(dir, 'cow.c'), C_SOURCE)
    const build = spawnSync('cc', ['-O2', '-o', join(dir, 'cow'), join(dir, 'cow.c')], { encoding: 'utf8' })
    if (build.status !== 0) return skipped(`kernel comparison skipped: cc failed: ${build.stderr.slice(0, 500)}`)
    log(`  kernel and engine alternately: ${pages.toLocaleString('en-US')} pages × ${reps} reps (so both see the same machine noise)`)
    for (let i = 0; i < 3; i++) engineOnce(pages) // JIT warm-up, full size
    const kernelSamples: PhaseTimes[] = []
    const engineSamples: PhaseTimes[] = []
    for (let r = 0; r < reps; r++) {
      // Two runs per process, the first a warm-up (fresh process, cold allocator caches).
      const run = spawnSync(join(dir, 'cow'), [String(pages), '2'], { encoding: 'utf8', timeout: 120000 })
      if (run.status !== 0) return skipped(`kernel comparison skipped: the C program failed (exit ${String(run.status)}, signal ${String(run.signal)}): ${(run.stderr ?? '').slice(0, 500)}`)
      const lines = run.stdout.trim().split('\n')
      kernelSamples.push(JSON.parse(lines[lines.length - 1]) as PhaseTimes)
      engineSamples.push(engineOnce(pages))
    }
    const kernelMs = medianTimes(kernelSamples)
    const engineMs = medianTimes(engineSamples)
    const kernelMin = minTimes(kernelSamples)
    const engineMin = minTimes(engineSamples)
    const ratio = {} as PhaseTimes
    const ratioMin = {} as PhaseTimes
    for (const p of PHASES) { ratio[p] = engineMs[p] / kernelMs[p]; ratioMin[p] = engineMin[p] / kernelMin[p] }
    let thp = 'n/a'
    try { thp = readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8').trim() } catch { /* none */ }
    return {
      pages,
      reps,
      uname: `${os.type()} ${os.release()} ${os.arch()}`,
      thp,
      kernelMs,
      engineMs,
      ratio,
      kernelMin,
      engineMin,
      ratioMin,
      kernelSamples,
      engineSamples,
      kernelForkPtesPerSec: pages / (kernelMs.fork / 1000),
      engineForkPtesPerSec: pages / (engineMs.fork / 1000),
      kernelForkPtesPerSecBest: pages / (kernelMin.fork / 1000),
      engineForkPtesPerSecBest: pages / (engineMin.fork / 1000),
      compiler: (cc.stdout.split('\n')[0] ?? '').trim()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
