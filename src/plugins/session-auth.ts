import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { timingSafeEqual } from 'node:crypto'
import { SessionError } from '../sessions/errors.js'
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

/** The last Authorization header verified on a connection, and for which session. */
interface Verified { sid: string, header: Buffer, session: Session }
const VERIFIED = Symbol('rmap-sim.verified-authorization')
type AuthSocket = { [VERIFIED]?: Verified } | null | undefined

/**
 * A keep-alive connection that sends the header it was verified with again, for the same live
 * session, needs no second SHA-256: the load run measured the hash at about a fifth of a small
 * query's server time (far more than its cost in a tight loop). The headers are compared in constant
 * time, because behind a reverse proxy one upstream connection carries many clients' requests.
 */
function verifiedBefore (socket: AuthSocket, sid: string, header: string | undefined): Verified | undefined {
  const v = socket?.[VERIFIED]
  if (v === undefined || header === undefined || v.sid !== sid || Buffer.byteLength(header) !== v.header.length) return undefined
  return timingSafeEqual(Buffer.from(header), v.header) ? v : undefined
}

/**
 * onRequest hook of every /v1/sessions/:sid route: the session, or 401/404 before anything runs.
 * A callback hook, not an async one: it is synchronous, and a promise per request is a measurable
 * share of a small query's cost.
 */
export function authenticate (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const sid = (request.params as { sid?: string }).sid ?? ''
  const sessions = request.server.sessions
  // A process whose lease ran out (it was paused, or Redis was away) may have been replaced: its
  // copies are dropped (leaseValid() does it) before anything is served from them.
  const store = request.server.durableStore
  if (store !== undefined && !store.leaseValid()) {
    done(new SessionError('store_unavailable', 'this process\'s ownership lease has lapsed; retry (the session is served again once ownership is settled)'))
    return
  }
  // A durable session this process does not hold comes back from the store first.
  if (sessions.durable && sessions.get(sid) === undefined) {
    sessions.recover(sid).then(() => { authenticateHeld(request, reply, done) }, (err: Error) => { done(err) })
    return
  }
  authenticateHeld(request, reply, done)
}

function authenticateHeld (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const sid = (request.params as { sid?: string }).sid ?? ''
  const sessions = request.server.sessions
  const socket = request.raw.socket as AuthSocket
  const header = request.headers.authorization
  const v = verifiedBefore(socket, sid, header)
  if (v !== undefined) {
    if (sessions.touch(v.session)) {
      request.simSession = v.session
      done()
      return
    }
    socket![VERIFIED] = undefined // ended: let it go, authorize() below says how
  }
  try {
    request.simSession = sessions.authorize(sid, bearerToken(request))
  } catch (err) {
    done(err as Error)
    return
  }
  if (socket != null && typeof header === 'string') socket[VERIFIED] = { sid, header: Buffer.from(header), session: request.simSession }
  done()
}

/**
 * Tags the session's simulator with this request's id (the cause of every event the command makes
 * names it) and returns it: call it right before a command. Queries use request.simSession.sim.
 */
export function tagSim (request: FastifyRequest): Simulator {
  const sim = request.simSession.sim
  sim.tag = request.id
  return sim
}
