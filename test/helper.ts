import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'

export interface TestContext { teardown: (fn: () => unknown) => void }

/** A server built with test settings (no logs) and closed when the test ends. */
export async function buildTestApp (t: TestContext, env: Record<string, string> = {}, now?: () => number): Promise<FastifyInstance> {
  const config = loadConfig({ LOG_LEVEL: 'silent', RATE_LIMIT_PER_MINUTE: '0', VALIDATE_RESPONSES: 'true', ...env })
  const app = await buildApp({ config, logger: false, now })
  t.teardown(async () => { await app.close() })
  await app.ready()
  return app
}

export interface TestSession {
  id: string
  token: string
  base: string
  headers: { authorization: string }
}

/** Creates a session and returns what later requests need. */
export async function createSession (app: FastifyInstance, kernel: '2.6.11' | '6.18' = '6.18', limits?: Record<string, number>): Promise<TestSession> {
  const res = await app.inject({ method: 'POST', url: '/v1/sessions', payload: { kernel, limits } })
  if (res.statusCode !== 201) throw new Error(`session creation failed: ${res.statusCode} ${res.body}`)
  const body = res.json() as { id: string, token: string }
  return { id: body.id, token: body.token, base: `/v1/sessions/${body.id}`, headers: { authorization: `Bearer ${body.token}` } }
}

/** Calls a session route; `payload` as JSON. */
export async function call (app: FastifyInstance, s: TestSession, method: 'GET' | 'POST' | 'DELETE', path: string, payload?: unknown): Promise<LightMyRequestResponse> {
  return await app.inject({ method, url: `${s.base}${path}`, headers: s.headers, payload: payload as Record<string, unknown> | undefined })
}
