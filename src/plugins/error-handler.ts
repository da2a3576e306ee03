import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod'
import { ApiError, type ApiErrorCode } from '../api-error.js'
import { SimError, type SimErrorCode } from '../sim/index.js'
import { hexAddresses } from '../../schemas/common.js'
import { SessionError, type SessionErrorCode } from '../sessions/errors.js'

/** The one table from the domain's error codes (engine and sessions) to HTTP statuses and API codes. */
const STATUS: Record<SimErrorCode | SessionErrorCode, [number, ApiErrorCode]> = {
  not_found: [404, 'not_found'],
  invalid_argument: [400, 'invalid_argument'],
  conflict: [409, 'conflict'],
  limit: [429, 'limit'],
  unsupported: [422, 'unsupported'],
  segfault: [422, 'segfault'],
  bus_error: [422, 'bus_error'],
  session_cap: [429, 'limit'],
  limits_too_high: [413, 'limit'],
  unauthorized: [401, 'unauthorized'],
  session_ended: [404, 'not_found'],
  store_unavailable: [503, 'unavailable']
}

interface ErrorBody { error: { code: string, message: string, details?: Record<string, unknown> } }

function body (code: string, message: string, details?: Record<string, unknown>): ErrorBody {
  return details === undefined ? { error: { code, message } } : { error: { code, message, details } }
}

/**
 * One error shape for every 4xx/5xx: { error: { code, message, details? } }. Validation errors list
 * each bad field; engine errors carry the errno the system call would have returned; a 5xx says
 * nothing of the internals (the log has them).
 */
export function errorHandler (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  if (hasZodFastifySchemaValidationErrors(err)) {
    const where = err.validationContext ?? 'request'
    const issues = err.validation.map((i) => ({
      field: `${where}${i.instancePath.replace(/\//g, '.')}`.replace(/^(\w+)\.?$/, '$1'),
      message: i.message
    }))
    reply.code(400).send(body('validation', `invalid ${where}: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`, { issues }))
    return
  }
  const shaped = (err as unknown as Partial<ErrorBody>).error
  if (typeof shaped === 'object' && shaped !== null && typeof shaped.code === 'string' && typeof shaped.message === 'string') {
    // Plugins that build their own reply in our shape (rate limit).
    reply.code(typeof err.statusCode === 'number' ? err.statusCode : 500).send(body(shaped.code, shaped.message, shaped.details))
    return
  }
  if (err instanceof ApiError) {
    reply.code(err.statusCode).send(body(err.code, err.message, err.details))
    return
  }
  if (err instanceof SessionError) {
    const [status, code] = STATUS[err.code]
    reply.code(status).send(body(code, err.message, err.details))
    return
  }
  if (err instanceof SimError) {
    const [status, code] = STATUS[err.code]
    reply.code(status).send(body(code, err.message, { errno: err.errno, ...hexAddresses(err.details) }))
    return
  }
  if (isResponseSerializationError(err)) {
    request.log.error({ err, issues: err.cause.issues }, 'reply does not match its schema')
    reply.code(500).send(body('internal', 'internal server error'))
    return
  }
  const status = typeof err.statusCode === 'number' ? err.statusCode : 500
  if (status === 413 || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    reply.code(413).send(body('limit', 'the request body is larger than this server accepts', { code: err.code }))
    return
  }
  if (status >= 400 && status < 500) {
    reply.code(status).send(body(status === 415 ? 'unsupported' : 'validation', err.message, { code: err.code }))
    return
  }
  request.log.error({ err }, 'unhandled error')
  reply.code(500).send(body('internal', 'internal server error'))
}

/**
 * Errors the router raises before any hook runs (a malformed %-escape, an over-long path segment):
 * the same error shape and request id as everything else.
 */
export function frameworkErrorHandler (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const status = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400
  reply.code(status).header('x-request-id', request.id)
    .send(body('validation', err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path segment is too long' : 'the URL is malformed (bad percent-encoding)', { code: err.code }))
}

export function notFoundHandler (request: FastifyRequest, reply: FastifyReply): void {
  reply.code(404).send(body('not_found', `no route ${request.method} ${request.url.split('?')[0]}`))
}
