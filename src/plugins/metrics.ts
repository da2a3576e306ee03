import type { FastifyInstance } from 'fastify'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { LagSink } from '../sessions/event-hub.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: { registry: Registry, rmapWalk: Histogram }
  }
}

/**
 * Prometheus metrics (prom-client, one registry per server): sessions, processes, frames, requests by
 * route and status, rmap walk durations, WebSocket subscribers, dropped connections and event lag.
 */
export function registerMetrics (app: FastifyInstance, eventLag: LagSink): void {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'rmap_' })
  const sessions = app.sessions
  registry.registerMetric(new Gauge({ name: 'rmap_sessions', help: 'Live sessions', registers: [], collect () { this.set(sessions.size) } }))
  registry.registerMetric(new Gauge({
    name: 'rmap_processes',
    help: 'Live simulated processes in all sessions',
    registers: [],
    collect () { let n = 0; for (const s of sessions.list()) n += s.sim.state.processes.size; this.set(n) }
  }))
  registry.registerMetric(new Gauge({
    name: 'rmap_frames_in_use',
    help: 'Simulated frames in use in all sessions',
    registers: [],
    collect () { let n = 0; for (const s of sessions.list()) n += s.sim.state.frames.inUse; this.set(n) }
  }))
  registry.registerMetric(new Gauge({
    name: 'rmap_ws_subscribers',
    help: 'Open event WebSockets',
    registers: [],
    collect () { let n = 0; for (const s of sessions.list()) n += s.events.subscribers.size; this.set(n) }
  }))
  if (app.durableStore !== undefined) {
    const store = app.durableStore
    const stats = sessions.recoveryStats
    // Counts kept by the session store, read at scrape time (they only grow).
    registry.registerMetric(new Counter({ name: 'rmap_store_recoveries_total', help: 'Sessions brought back from the durable store', registers: [], collect () { this.reset(); this.inc(stats.recoveries) } }))
    registry.registerMetric(new Counter({ name: 'rmap_store_recovery_failures_total', help: 'Recoveries that failed', registers: [], collect () { this.reset(); this.inc(stats.failures) } }))
    registry.registerMetric(new Counter({ name: 'rmap_store_recovery_seconds_total', help: 'Time spent recovering sessions (snapshot load and journal replay)', registers: [], collect () { this.reset(); this.inc(stats.totalMs / 1000) } }))
    registry.registerMetric(new Gauge({ name: 'rmap_store_last_recovery_seconds', help: 'Duration of the latest recovery', registers: [], collect () { this.set(stats.lastMs / 1000) } }))
    registry.registerMetric(new Counter({ name: 'rmap_store_leases_lost_total', help: 'Sessions dropped because a store write failed or another process owns them now', registers: [], collect () { this.reset(); this.inc(stats.leasesLost) } }))
    registry.registerMetric(new Gauge({ name: 'rmap_store_up', help: '1 when the durable store (Redis) answers a ping', registers: [], async collect () { this.set(await store.ping() ? 1 : 0) } }))
  }
  const dropped = new Counter({ name: 'rmap_ws_dropped_total', help: 'Event WebSockets the server closed (too slow, dead peer)', labelNames: ['reason'], registers: [registry] })
  const requests = new Counter({ name: 'rmap_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [registry] })
  const duration = new Histogram({
    name: 'rmap_http_request_duration_seconds',
    help: 'HTTP request durations by route',
    labelNames: ['method', 'route'],
    registers: [registry],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]
  })
  const rmapWalk = new Histogram({
    name: 'rmap_walk_duration_seconds',
    help: 'rmap walk durations (GET /frames/:pfn/rmap)',
    registers: [registry],
    buckets: [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05]
  })
  const lag = new Histogram({
    name: 'rmap_ws_event_lag_seconds',
    help: 'Time events wait between their operation and their send',
    registers: [registry],
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5]
  })
  eventLag.observe = (s) => { lag.observe(s) }
  eventLag.dropped = (reason) => { dropped.inc({ reason }) }
  app.decorate('metrics', { registry, rmapWalk })
  app.decorate('metricsHooks', { wsDropped: (why: string) => { dropped.inc({ reason: why }) } })
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched'
    requests.inc({ method: request.method, route, status: String(reply.statusCode) })
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000)
    done()
  })
  app.addHook('onClose', async () => { eventLag.observe = undefined; eventLag.dropped = undefined })
}
