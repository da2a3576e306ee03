/**
 * Errors raised by the server layer (sessions, auth, limits), with the HTTP status and the stable
 * error code they are sent with. Engine errors (SimError) are mapped in plugins/error-handler.ts.
 */
export type ApiErrorCode =
  | 'validation' | 'invalid_argument' | 'unauthorized' | 'forbidden' | 'not_found' | 'conflict'
  | 'segfault' | 'bus_error' | 'unsupported' | 'limit' | 'unavailable' | 'internal' | 'batch_failed'

export class ApiError extends Error {
  constructor (
    readonly statusCode: number,
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: Record<string, unknown>
  ) {
    super(message)
    this.name = 'ApiError'
  }
}
