import { createHash } from 'node:crypto'

/** A reply as it was sent, to send again for a retry with the same Idempotency-Key. */
export interface StoredReply {
  /** SHA-256 of the request (method, route, parameters, body): a key may not be reused for another. */
  fingerprint: string
  status: number
  contentType: string
  body: string
}

export function requestFingerprint (method: string, url: string, body: unknown): string {
  return createHash('sha256').update(`${method} ${url}\n${body === undefined ? '' : JSON.stringify(body)}`).digest('base64url')
}

/** How many keys a session remembers (the oldest go first). */
export const REMEMBERED_KEYS = 1000

/**
 * A session's Idempotency-Keys: the replies of the last REMEMBERED_KEYS keyed requests, and the keys
 * whose request is still running (a retry then is told so rather than applied twice).
 */
export class ReplyCache {
  private readonly replies = new Map<string, StoredReply>()
  private readonly running = new Map<string, string>()

  get (key: string): StoredReply | undefined { return this.replies.get(key) }

  /** The fingerprint of the running request with this key, if one is running. */
  runningWith (key: string): string | undefined { return this.running.get(key) }

  begin (key: string, fingerprint: string): void { this.running.set(key, fingerprint) }

  finish (key: string, reply: StoredReply | null): void {
    this.running.delete(key)
    if (reply === null) return
    this.replies.delete(key)
    this.replies.set(key, reply)
    if (this.replies.size > REMEMBERED_KEYS) this.replies.delete(this.replies.keys().next().value as string)
  }
}
