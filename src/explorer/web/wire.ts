/**
 * The session's WebSocket messages (GET /v1/sessions/{sid}/events). The OpenAPI document describes
 * the upgrade, not the messages, so their shape is written here from src/sessions/event-wire.ts.
 */
import type { Schemas } from './api'

export type Pte = Schemas['Pte']

export interface WireVma { id: number, start: string, end: string, pgoff: number, flags: number }

export interface SimEvent {
  seq: number
  type: string
  cause: { op: string, path?: string, pid?: number, requestId?: string }
  pid?: number
  addr?: string
  before?: Pte
  after?: Pte
  pfn?: number
  kind?: string
  vma?: WireVma
  other?: WireVma
  parent?: number
  child?: number
  anonVma?: number
}

export type ServerMessage =
  | { type: 'hello', session: string, kernel: string, seq: number, history: { oldest: number, size: number } }
  | { type: 'gap', from: number, to: number, message: string }
  | { type: 'error', error: { code: string, message: string } }
  | { type: 'pong' | 'subscribed', seq: number }

export function isEvent (m: unknown): m is SimEvent {
  return typeof m === 'object' && m !== null && typeof (m as { seq?: unknown }).seq === 'number' && typeof (m as { cause?: unknown }).cause === 'object'
}
