import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { Session } from '../sessions/session.js'
import type { Simulator } from '../sim/index.js'

declare module 'fastify' {
  interface FastifyRequest {
    simSession: Session
  }
}

/**
 * The bearer token of a request: the Authorization header, or, for WebSocket upgrades only (browsers
 * cannot set headers there), ?token= or the subprotocol "bearer.<token>".
 */
export function bearerToken (request: FastifyRequest): string | undefined {
  const h = request.headers.authorization
  if (typeof h === 'string') {
    const m = /^Bearer\s+(\S+)$/i.exec(h)
    return m?.[1]
  }
  if (request.headers.upgrade?.toLowerCase() !== 'websocket') return undefined
  const q = request.query as Record<string, unknown> | undefined
  if (typeof q?.token === 'string') return q.token
  const proto = request.headers['sec-websocket-protocol']
  if (typeof proto === 'string') {
    const p = proto.split(',').map((s) => s.trim()).find((s) => s.startsWith('bearer.'))
    if (p !== undefined) return p.slice('bearer.'.length)
  }
  return undefined
}

/**
 * onRequest hook of every /v1/sessions/:sid route: the session, or 401/404 before anything runs.
 * A callback hook, not an async one: it is synchronous, and a promise per request is a measurable
 * share of a small query's cost.
 */
export function authenticate (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const sid = (request.params as { sid?: string }).sid ?? ''
  try {
    request.simSession = request.server.sessions.authorize(sid, bearerToken(request))
  } catch (err) {
    done(err as Error)
    return
  }
  done()
}

/** The request's simulator, with its events tagged by the request id. */
export function simOf (request: FastifyRequest): Simulator {
  const sim = request.simSession.sim
  sim.tag = request.id
  return sim
}
