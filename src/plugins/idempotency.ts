import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify'
import { errors, IdempotencyHeaders } from '../../schemas/common.js'
import { ApiError } from '../api-error.js'
import { requestFingerprint, type StoredReply } from '../sessions/idempotency.js'
import type { Session } from '../sessions/session.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's Idempotency-Key, once it was accepted as new (null otherwise). */
    idempotency: { key: string, fingerprint: string, done: boolean } | null
  }
}

/**
 * Idempotency-Key on a session's POST routes, and replies that wait for the durable store. Registered
 * in the session routes' scope before the routes (the onRoute hook documents the header and 409).
 * - preHandler: a key seen before answers the first reply again (Idempotent-Replayed: true) if the
 *   request is the same, 409 if it is another or the first is still running; else it is noted.
 * - onSend: the reply is kept for the key (not a 5xx or a 429: those may be retried for real); with a
 *   durable store it is stored with the request's ops, and the reply waits until they are stored.
 *   If the store refused them, the reply becomes a 503 and nothing is kept for the key.
 */
export function registerIdempotency (scoped: FastifyInstance): void {
  scoped.decorateRequest('idempotency', null)
  scoped.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    if (!methods.includes('POST')) return
    const schema = (route.schema ??= {}) as { headers?: unknown, response?: Record<string, unknown> }
    schema.headers ??= IdempotencyHeaders
    if (schema.response !== undefined && schema.response[409] === undefined) schema.response[409] = errors(409)[409]
  })
  scoped.addHook('preHandler', replayKnownKey)
  scoped.addHook('onSend', keepReply)
  scoped.addHook('onResponse', (request, _reply, done) => { forgetUnfinished(request); done() })
  scoped.addHook('onRequestAbort', (request, done) => { forgetUnfinished(request); done() })
}

async function replayKnownKey (request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const key = request.headers['idempotency-key']
  if (typeof key !== 'string' || request.method !== 'POST') return
  const session = request.simSession
  const fingerprint = requestFingerprint(request.method, request.url, request.body)
  let known = session.replies.get(key)
  const store = request.server.durableStore
  if (known === undefined && store !== undefined) known = (await store.lookupReply(session.id, key)) ?? undefined
  if (known !== undefined) {
    if (known.fingerprint !== fingerprint) throw new ApiError(409, 'conflict', `Idempotency-Key "${key}" was used for another request of this session`, { key })
    reply.code(known.status).header('content-type', known.contentType).header('idempotent-replayed', 'true')
    await reply.send(known.body)
    return
  }
  const running = session.replies.runningWith(key)
  if (running !== undefined) {
    throw new ApiError(409, 'conflict', running === fingerprint ? `a request with Idempotency-Key "${key}" is still running; retry shortly` : `Idempotency-Key "${key}" was used for another request of this session`, { key })
  }
  session.replies.begin(key, fingerprint)
  request.idempotency = { key, fingerprint, done: false }
  session.persistence?.expectReply(request.id, key)
}

function keepReply (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: HookHandlerDoneFunction & ((err: Error | null, payload?: unknown) => void)): void {
  const session = request.simSession as Session | null
  const idem = request.idempotency
  if (idem === null && session?.persistence?.waiting !== true) { done(null, payload); return }
  let kept: StoredReply | null = null
  if (idem !== null && session !== null) {
    const status = reply.statusCode
    kept = status >= 500 || status === 429 || typeof payload !== 'string'
      ? null
      : { fingerprint: idem.fingerprint, status, contentType: String(reply.getHeader('content-type') ?? 'application/json; charset=utf-8'), body: payload }
    session.persistence?.provideReply(request.id, kept)
  }
  const settle = (ok: boolean): void => {
    if (idem !== null && session !== null) { idem.done = true; session.replies.finish(idem.key, ok ? kept : null) }
  }
  // Ask again: providing the reply may have let this request's ops go to the store.
  const durable = session?.persistence?.whenDurable() ?? null
  if (durable === null) { settle(true); done(null, payload); return }
  durable.then(() => { settle(true); done(null, payload) }, (err: unknown) => {
    settle(false)
    reply.code(503).header('retry-after', '1').header('content-type', 'application/json; charset=utf-8')
    done(null, JSON.stringify({ error: { code: 'unavailable', message: `the operation could not be stored (${err instanceof Error ? err.message : String(err)}); this server no longer applies it: retry${idem !== null ? ' with the same Idempotency-Key' : ''}` } }))
  })
}

/** A keyed request that ended without a reply kept (aborted, failed before onSend): its key is free. */
function forgetUnfinished (request: FastifyRequest): void {
  const idem = request.idempotency
  if (idem !== null && !idem.done) {
    idem.done = true
    const session = request.simSession as Session | null
    session?.persistence?.provideReply(request.id, null)
    session?.replies.finish(idem.key, null)
  }
}
