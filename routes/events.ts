import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { WebSocket } from 'ws'
import { z } from 'zod'
import { errors, toHex } from '../schemas/common.js'
import { ClientMessage, EventsQuery } from '../schemas/events.js'
import { CLOSE, type Subscriber } from '../src/sessions/event-hub.js'
import type { EventFilter } from '../src/sessions/event-filter.js'
import { SessionParams } from '../schemas/common.js'
import { ApiError } from '../src/api-error.js'

const MAX_ERRORS = 100

/** A filter as the client reads it back: addresses in hex. */
const filterOut = (f: EventFilter): Record<string, unknown> => ({
  ...f, from: f.from === undefined ? undefined : toHex(f.from), to: f.to === undefined ? undefined : toHex(f.to)
})

/**
 * GET /v1/sessions/:sid/events: the session's events over a WebSocket. Auth happens before the
 * upgrade (401/404 as HTTP). First message: hello (current seq, history range, filter); then a gap
 * notice if ?since= reaches past the history; then events, one object per message or an array when
 * an operation made several.
 */
const eventRoutes: FastifyPluginAsyncZod = async (app) => {
  const live = new Set<Subscriber>()
  const heartbeat = setInterval(() => {
    for (const sub of live) {
      if (!sub.alive) {
        app.metricsHooks?.wsDropped('heartbeat')
        sub.socket.terminate()
        continue
      }
      sub.alive = false
      sub.socket.ping()
    }
  }, app.config.WS_PING_INTERVAL_MS)
  heartbeat.unref()
  app.addHook('onClose', async () => { clearInterval(heartbeat) })

  app.route({
    method: 'GET',
    url: '/events',
    schema: {
      operationId: 'subscribeEvents',
      tags: ['events'],
      summary: 'WebSocket stream of PTE and structural changes (upgrade)',
      description: 'Filters: pid, pfn, from/to, types; ?since=<seq> resumes from the bounded history. Close codes: 1001 shutdown, 4000 session deleted, 4001 session expired, 4008 too slow (resume with since).',
      params: SessionParams,
      querystring: EventsQuery,
      response: {
        101: z.null().meta({ description: 'Switching Protocols: the WebSocket is open; the first message is hello' }),
        ...errors(400, 401, 404, 426, 429, 503)
      }
    },
    // A plain GET (no upgrade) is told what to do instead of getting an empty 404.
    handler: async () => {
      throw new ApiError(426, 'validation', 'this route is a WebSocket: connect with an Upgrade: websocket request')
    },
    wsHandler: (socket: WebSocket, request) => {
      const session = request.simSession
      const q = request.query
      const filter: EventFilter = { pids: q.pid, pfns: q.pfn, from: q.from, to: q.to, types: q.types }
      const hub = session.events
      // A since past the latest event would silently skip the events up to it: start from now
      // instead, and say so.
      const ahead = q.since !== undefined && q.since > hub.seq
      const { sub, gap } = hub.subscribe(socket, filter, ahead ? hub.seq : q.since)
      live.add(sub)
      let errors = 0
      const send = (obj: unknown): void => { if (!sub.closed) socket.send(JSON.stringify(obj)) }
      send({ type: 'hello', session: session.id, kernel: session.version, seq: hub.seq, history: { oldest: hub.oldest, size: hub.historySize }, filter: filterOut(filter) })
      if (ahead) send({ type: 'error', error: { code: 'validation', message: `since=${String(q.since)} is ahead of the latest event (${hub.seq}): streaming from ${hub.seq}` } })
      if (gap !== null) send({ type: 'gap', from: gap.from, to: gap.to, message: `events ${gap.from}..${gap.to} are no longer in the history: re-read the state over HTTP` })
      sub.flushWhenDurable()

      socket.on('pong', () => { sub.alive = true })
      socket.on('message', (data, isBinary) => {
      // Errors thrown here would reach no error handler: answer on the socket instead.
        try {
          if (isBinary) throw new Error('binary messages are not accepted; send JSON text')
          let parsed: unknown
          try { parsed = JSON.parse(data.toString()) } catch { throw new Error('a message must be JSON') }
          const r = ClientMessage.safeParse(parsed)
          if (!r.success) throw new Error(r.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; '))
          if (r.data.type === 'ping') send({ type: 'pong', seq: hub.seq })
          else {
            sub.setFilter(r.data.filter)
            send({ type: 'subscribed', filter: filterOut(r.data.filter), seq: hub.seq })
          }
        } catch (err) {
          send({ type: 'error', error: { code: 'validation', message: err instanceof Error ? err.message : String(err) } })
          if (++errors > MAX_ERRORS) sub.close(CLOSE.policy, 'too many malformed messages')
        }
      })
      socket.on('close', () => {
        sub.closed = true
        live.delete(sub)
        hub.unsubscribe(sub)
      })
      socket.on('error', (err) => { request.log.warn({ err }, 'event socket error') })
    }
  })
}

export default eventRoutes
