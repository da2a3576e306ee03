/**
 * The explorer's only way to the server: openapi-fetch over the types generated from /docs/json
 * (api-types.ts), so every path, parameter and body here is one the API documents.
 */
import createClient, { type Client } from 'openapi-fetch'
import type { components, paths } from './api-types'

export type Schemas = components['schemas']
export type ApiClient = Client<paths>
export type Kernel = Schemas['SessionSummary']['kernel']
export type ErrorBody = Schemas['Error']

/** A session the explorer can talk to: its id and bearer token. */
export interface Credentials { id: string, token: string }

/** A reply other than 2xx, with the API's error as it came. */
export class ApiFailure extends Error {
  constructor (readonly status: number, readonly body: ErrorBody) {
    super(`${status} ${body.error.code}: ${body.error.message}`)
    this.name = 'ApiFailure'
  }
}

/** A client for the server this page came from; with credentials, every request carries the token. */
export function apiClient (creds?: Credentials): ApiClient {
  const client = createClient<paths>({ baseUrl: location.origin })
  if (creds !== undefined) {
    client.use({
      onRequest ({ request }) {
        request.headers.set('authorization', `Bearer ${creds.token}`)
        return request
      }
    })
  }
  return client
}

interface Reply<T> { data?: T, error?: unknown, response: Response }

/** The reply's body, or an ApiFailure carrying the error the API gave. */
export async function ok<T> (pending: Promise<Reply<T>>): Promise<T> {
  const r = await pending
  if (r.response.ok && r.data !== undefined) return r.data
  const body = isErrorBody(r.error) ? r.error : { error: { code: 'internal', message: `HTTP ${r.response.status} without an error body` } }
  throw new ApiFailure(r.response.status, body as ErrorBody)
}

function isErrorBody (e: unknown): e is ErrorBody {
  return typeof e === 'object' && e !== null && typeof (e as { error?: { code?: unknown } }).error?.code === 'string'
}

/** The path parameters of a session route. */
export const sid = (c: Credentials): { sid: string } => ({ sid: c.id })
