import type { LatencySummary } from './stats.js'

/** One HTTP throughput scenario, as it goes in the report. */
export interface HttpScenario {
  id: string
  title: string
  /** What one request does. */
  description: string
  tool: 'autocannon' | 'fetch workers'
  connections: number
  durationS: number
  /** Completed requests (any status). */
  requests: number
  rps: number
  /** Client-side latency of every response, ms (high resolution). */
  latency: LatencySummary
  errors: number
  errorDetail: Record<string, number>
  /** Scenario-specific rates (mappings/s, scenarios/s, ...). */
  extra: Record<string, number>
  ratioToBaseline?: number
  notes: string[]
}

export interface Skipped { skipped: true, reason: string }

export const skipped = (reason: string): Skipped => ({ skipped: true, reason })
export const isSkipped = (x: unknown): x is Skipped => typeof x === 'object' && x !== null && (x as Skipped).skipped === true
