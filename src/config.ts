import { z } from 'zod'

/**
 * Server configuration, from environment variables only, parsed once at start-up. A bad value stops
 * the start with a message naming the variable.
 */
/** A decimal integer; an unset or blank variable takes the default. */
const int = (def: number, min: number, max: number) => z.string().trim()
  .regex(/^[0-9]+$/, 'must be a decimal integer').transform(Number).pipe(z.number().int().min(min).max(max))
  .optional().transform((v) => v ?? def)
const bool = (def: boolean) => z.enum(['true', 'false', '1', '0']).default(def ? 'true' : 'false').transform((v) => v === 'true' || v === '1')

export const envSchema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: int(3000, 0, 65535),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Idle time after which a session is deleted. */
  SESSION_IDLE_SECONDS: int(1800, 1, 7 * 24 * 3600),
  /** Server-wide cap on live sessions. */
  MAX_SESSIONS: int(1000, 1, 1_000_000),
  /** Per-session limits: defaults for new sessions, which may ask for less but not more. */
  SESSION_MAX_PROCESSES: int(256, 1, 65536),
  SESSION_MAX_VMAS: int(4096, 1, 65530),
  SESSION_MAX_FRAMES: int(262144, 16, 1 << 24),
  SESSION_MAX_FILES: int(64, 1, 65536),
  SESSION_MAX_FILE_PAGES: int(65536, 1, 1 << 24),
  SESSION_MAX_SWAP_SLOTS: int(262144, 1, 1 << 24),
  /** Largest request body accepted, in bytes. */
  BODY_LIMIT: int(1 << 20, 1024, 64 << 20),
  /** Events kept per session for WebSocket resume (?since=). */
  EVENT_HISTORY: int(4096, 0, 1_000_000),
  /** Bytes a WebSocket may have queued before the server closes it (code 4008); the client resumes with ?since=. */
  WS_MAX_BUFFERED_BYTES: int(4 << 20, 1024, 1 << 30),
  /** Heartbeat: a ping this often; a peer that has not answered the previous one is dropped. */
  WS_PING_INTERVAL_MS: int(30000, 50, 600000),
  /** Largest message a client may send on the event socket. */
  WS_MAX_MESSAGE_BYTES: int(16384, 256, 1 << 20),
  /** Largest number of ops in one POST /ops batch. */
  MAX_BATCH_OPS: int(1000, 1, 100_000),
  /** Bearer token that may list every session; unset: nobody may. */
  ADMIN_TOKEN: z.string().min(16, 'ADMIN_TOKEN must be at least 16 characters').optional(),
  /** Comma-separated origins allowed by CORS; empty: CORS closed. */
  CORS_ORIGINS: z.string().default('').transform((s) => s.split(',').map((o) => o.trim()).filter((o) => o.length > 0)),
  /** Trust X-Forwarded-* from a proxy in front. */
  TRUST_PROXY: bool(false),
  /** Requests per minute per client (0: no rate limit). */
  RATE_LIMIT_PER_MINUTE: int(6000, 0, 10_000_000),
  /** Milliseconds a connection may take to send a request. */
  REQUEST_TIMEOUT_MS: int(30000, 1000, 600000),
  /** Check every reply against its zod schema before sending (tests; costs CPU on big replies). */
  VALIDATE_RESPONSES: bool(false),
  /** Durable sessions: the Redis that keeps every session's journal and snapshots (unset: in memory only). */
  REDIS_URL: z.string().url().optional(),
  /** This process's name in session ownership records (default: host name and pid). */
  NODE_ID: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" and "-" only').optional(),
  /** Milliseconds a process's ownership lasts without renewal; past it, another process may take its sessions over. */
  LEASE_MS: int(3000, 200, 600000),
  /** A snapshot of a durable session every this many operations (bounds a recovery's replay). */
  SNAPSHOT_EVERY: int(500, 1, 1_000_000),
  /** Milliseconds a Redis command may take before the request it serves fails with 503. */
  STORE_TIMEOUT_MS: int(2000, 50, 60000),
  /** Folder of the built browser explorer served at / (default: the package's dist/explorer, made by npm run build). */
  EXPLORER_DIR: z.string().min(1).optional(),
  /** Milliseconds granted to in-flight work at shutdown. */
  SHUTDOWN_GRACE_MS: int(10000, 100, 120000)
})

export type Config = z.output<typeof envSchema>

export class ConfigError extends Error {
  constructor (readonly issues: string[]) {
    super(`invalid configuration:\n  ${issues.join('\n  ')}`)
    this.name = 'ConfigError'
  }
}

/** Variables whose values never appear in messages. */
const SECRETS = new Set(['ADMIN_TOKEN'])

/** Parses the environment; throws ConfigError naming each bad variable. */
export function loadConfig (env: Record<string, string | undefined> = process.env): Config {
  const blank = (v: string | undefined): boolean => v === undefined || v.trim() === ''
  const known = Object.fromEntries(Object.keys(envSchema.shape).map((k) => [k, blank(env[k]) && k !== 'CORS_ORIGINS' ? undefined : env[k]]))
  const r = envSchema.safeParse(known)
  if (!r.success) {
    throw new ConfigError(r.error.issues.map((i) => {
      const name = String(i.path[0])
      const shown = SECRETS.has(name) ? '(hidden)' : JSON.stringify(known[name] ?? null)
      return `${name}=${shown}: ${i.message}`
    }))
  }
  return r.data
}
