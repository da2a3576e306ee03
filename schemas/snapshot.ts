/** The versioned snapshot's schema lives with the engine (src/sim/snapshot-schema.ts), which derives its type from it. */
export { SnapshotSchema } from '../src/sim/index.js'
