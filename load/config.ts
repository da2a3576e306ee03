/**
 * Load-run settings, from the environment only. Every run is bounded: duration and connections are
 * clamped, and the server is reached on loopback only.
 */
export const SECTIONS = [
  'memory', 'health', 'rmap8', 'rmap1000', 'access', 'fork', 'fork-atomic', 'ops200', 'grading', 'ws', 'ceiling', 'engine', 'kernel'
] as const
export type Section = typeof SECTIONS[number]

export interface LoadConfig {
  /** Seconds per autocannon scenario (and per timed WebSocket / grading phase). */
  duration: number
  /** autocannon connections (the baseline's concurrency). */
  connections: number
  /** Concurrent fetch workers of the mixed grading workload. */
  workers: number
  /** Idle sessions created for the memory measurement. */
  idleSessions: number
  /** WebSocket fan-out subscriber count. */
  wsSubscribers: number
  /** Pages of the kernel comparison. */
  kernelPages: number
  /** Repetitions of the kernel comparison (median reported). */
  kernelReps: number
  /** Sections to run. */
  only: Set<Section>
  /** Profile the server child with --cpu-prof. */
  cpuProf: boolean
  /** Extra arguments for the engine benchmark (e.g. --quick). */
  engineArgs: string[]
  /** Seconds the engine benchmark may take before it is killed. */
  engineTimeout: number
  /** auto: build when dist is missing or older than the sources; always; never. */
  build: 'auto' | 'always' | 'never'
  resultsDir: string
  /** Extra server environment (LOAD_SERVER_ENV="EVENT_HISTORY=0 ..."), for experiments. */
  serverEnv: Record<string, string>
}

function num (name: string, def: number, min: number, max: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return def
  const n = Number(raw)
  if (!Number.isFinite(n)) throw new Error(`${name}=${raw}: not a number`)
  return Math.min(max, Math.max(min, n))
}

export function loadConfig (root: string): LoadConfig {
  const onlyRaw = process.env.LOAD_ONLY
  const only = new Set<Section>()
  if (onlyRaw === undefined || onlyRaw.trim() === '') {
    for (const s of SECTIONS) only.add(s)
  } else {
    for (const s of onlyRaw.split(',').map((x) => x.trim()).filter(Boolean)) {
      if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`LOAD_ONLY: unknown section "${s}" (use ${SECTIONS.join(',')})`)
      only.add(s as Section)
    }
  }
  const build = process.env.LOAD_BUILD ?? 'auto'
  if (build !== 'auto' && build !== 'always' && build !== 'never') throw new Error(`LOAD_BUILD=${build}: use auto, always or never`)
  const cpuProf = process.env.LOAD_CPU_PROF === '1' || process.env.LOAD_CPU_PROF === 'true'
  return {
    duration: num('LOAD_DURATION', 5, 1, 600),
    connections: Math.round(num('LOAD_CONNECTIONS', 10, 1, 1000)),
    workers: Math.round(num('LOAD_WORKERS', 50, 1, 1000)),
    idleSessions: Math.round(num('LOAD_IDLE_SESSIONS', 1000, 1, 100000)),
    wsSubscribers: Math.round(num('LOAD_WS_SUBSCRIBERS', 100, 1, 1000)),
    kernelPages: Math.round(num('LOAD_KERNEL_PAGES', 100000, 1000, 4_000_000)),
    kernelReps: Math.round(num('LOAD_KERNEL_REPS', 9, 1, 50)),
    only,
    cpuProf,
    engineArgs: (process.env.LOAD_ENGINE_ARGS ?? '').split(/\s+/).filter(Boolean),
    engineTimeout: num('LOAD_ENGINE_TIMEOUT', 900, 10, 7200),
    build,
    // A profiling run gets its own directory so it does not overwrite the main report.
    resultsDir: process.env.LOAD_RESULTS_DIR ?? (cpuProf ? `${root}/load/results/profile-${[...only].join('+')}` : `${root}/load/results`),
    serverEnv: Object.fromEntries((process.env.LOAD_SERVER_ENV ?? '').split(/\s+/).filter(Boolean).map((kv) => {
      const i = kv.indexOf('=')
      if (i <= 0) throw new Error(`LOAD_SERVER_ENV: "${kv}" is not NAME=value`)
      return [kv.slice(0, i), kv.slice(i + 1)]
    }))
  }
}
