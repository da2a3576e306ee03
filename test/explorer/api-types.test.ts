/**
 * The explorer is typed only by src/explorer/web/api-types.ts, generated from /docs/json: it must
 * match the document the server serves now, or the browser client is typed against an API that no
 * longer exists (run `npm run gen:api`).
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { API_TYPES_FILE, apiTypesSource, servedDocument } from '../../src/explorer/gen-api-types.js'

t.test('api-types.ts is generated from the served document', async (t) => {
  const fresh = await apiTypesSource(await servedDocument())
  t.ok(readFileSync(API_TYPES_FILE, 'utf8') === fresh, 'src/explorer/web/api-types.ts is current (npm run gen:api)')
  t.match(fresh, /rmapWalk: \{/, 'operations are typed by operationId')
  t.match(fresh, /RmapStep: /, 'the walk steps are typed')
})
