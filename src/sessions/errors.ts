/**
 * Errors of the session layer, in its own terms; the server's one error table
 * (plugins/error-handler.ts) gives each code its HTTP status and API error code.
 */
export type SessionErrorCode =
  /** The server holds as many sessions as it may. */
  | 'session_cap'
  /** A session asked for limits above this server's. */
  | 'limits_too_high'
  /** No token, or not the session's token (whether or not the session exists). */
  | 'unauthorized'
  /** The right token for a session that has ended (deleted or idle too long). */
  | 'session_ended'
  /** The durable store could not take or give a session's state (Redis down, another owner): retry. */
  | 'store_unavailable'

export class SessionError extends Error {
  constructor (readonly code: SessionErrorCode, message: string, readonly details?: Record<string, unknown>) {
    super(message)
    this.name = 'SessionError'
  }
}
