import type { z } from 'zod'
import type { SessionSummary } from '../schemas/sessions.js'
import type { Session } from '../src/sessions/session.js'
import type { SessionStore } from '../src/sessions/session-store.js'

/** A session's summary: kernel, times, counts and limits. */
export function sessionOut (store: SessionStore, s: Session): z.infer<typeof SessionSummary> {
  const st = s.sim.stats()
  return {
    id: s.id,
    kernel: s.version,
    createdAt: new Date(s.createdAt).toISOString(),
    lastUsedAt: new Date(s.lastUsedAt).toISOString(),
    expiresAt: new Date(store.expiresAt(s)).toISOString(),
    requests: s.requests,
    counts: {
      processes: st.processes,
      vmas: st.vmas,
      files: st.files,
      anonVmas: st.anonVmas,
      framesInUse: st.framesInUse,
      framesByKind: st.framesByKind,
      swapSlotsUsed: st.swapSlotsUsed,
      events: st.events
    },
    limits: st.limits
  }
}
