import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { contractFor, type Contract, type OpenApiDocument, type ReplyFacts } from './api/openapi-contract.js'

export interface TestContext { teardown: (fn: () => unknown) => void }

/** A server built with test settings (no logs), held to its OpenAPI document, and closed when the test ends. */
export async function buildTestApp (t: TestContext, env: Record<string, string> = {}, now?: () => number): Promise<FastifyInstance> {
  const config = loadConfig({ LOG_LEVEL: 'silent', RATE_LIMIT_PER_MINUTE: '0', VALIDATE_RESPONSES: 'true', ...env })
  const app = await buildApp({ config, logger: false, now })
  const contract = holdToContract(app)
  watches.set(app, contract)
  // One teardown: tap runs teardowns last-registered first and stops at one that throws, and the
  // server must close whatever the contract says.
  t.teardown(async () => {
    try { await app.close() } finally { contract.verify() }
  })
  await app.ready()
  return app
}

const watches = new WeakMap<FastifyInstance, ContractWatch>()

/** What the contract hook of a buildTestApp server has seen. */
export function contractWatchOf (app: FastifyInstance): ContractWatch {
  const w = watches.get(app)
  if (w === undefined) throw new Error('not a buildTestApp server')
  return w
}

/** A reply as the contract hook saw it, and what it broke. */
export interface ContractViolation { facts: ReplyFacts, url: string, problems: string[] }

export interface ContractWatch {
  /** "operationId status" of every reply so far that an operation of the document gave. */
  seen: Set<string>
  /** The replies that broke the document so far. */
  violations: ContractViolation[]
  /** Throws, naming each request, status and body, if any reply broke the document. */
  verify: () => void
}

/**
 * Holds every reply of `app` to the OpenAPI document it serves (/docs/json), read by a validator
 * independent of the zod schemas (test/api/openapi-contract.ts): a status its operation does not
 * document, or a body its response schema rejects, is recorded, and verify() (which the test's
 * teardown calls) fails the test, naming the request, the status and the body. Replies no route made
 * (unknown routes) must have the Error shape; the documentation's own pages (hidden routes) are left
 * alone; a WebSocket that upgrades sends no HTTP reply (one refused before the upgrade is checked
 * like any other). Call before app.ready().
 */
export function holdToContract (app: FastifyInstance): ContractWatch {
  const violations: ContractViolation[] = []
  const seen = new Set<string>()
  let contract: Contract | undefined
  app.addHook('onSend', (request, reply, payload, done) => {
    const facts: ReplyFacts = { method: request.method, route: request.routeOptions.url, status: reply.statusCode, contentType: undefined, body: '' }
    try {
      contract ??= contractFor(app.swagger() as unknown as OpenApiDocument)
      facts.contentType = reply.getHeader('content-type') as string | undefined
      // fastify sends no body with a 1xx, 204 or 304, whatever the handler passed.
      const bodyless = payload === null || payload === undefined || facts.status < 200 || facts.status === 204 || facts.status === 304
      const readable = bodyless || typeof payload === 'string' || Buffer.isBuffer(payload)
      facts.body = bodyless || !readable ? '' : String(payload)
      const op = facts.route === undefined ? undefined : contract.operation(facts.method, facts.route)
      if (op !== undefined) seen.add(`${op.operation.operationId ?? `${op.method} ${op.path}`} ${facts.status}`)
      const hidden = (request.routeOptions.schema as { hide?: boolean } | undefined)?.hide === true
      // A stream (the documentation's static files) cannot be read here; no operation sends one.
      const problems = readable ? contract.check(facts, hidden) : op === undefined ? [] : ['a streamed reply, which the contract hook cannot read']
      if (problems.length > 0) violations.push({ facts, url: request.url, problems })
    } catch (err) {
      violations.push({ facts, url: request.url, problems: [`the contract check threw: ${String(err)}`] })
    }
    done(null, payload)
  })
  const verify = (): void => {
    if (violations.length === 0) return
    const shown = violations.slice(0, 10).map((v) => `${v.facts.method} ${v.url.slice(0, 160)} -> ${v.facts.status}: ${v.problems.join('; ')}`)
    throw new Error(`${violations.length} repl${violations.length === 1 ? 'y breaks' : 'ies break'} the OpenAPI document (/docs/json):\n  ${shown.join('\n  ')}${violations.length > 10 ? `\n  ... and ${violations.length - 10} more` : ''}`)
  }
  return { seen, violations, verify }
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
