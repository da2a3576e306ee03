import { existsSync } from 'node:fs'
import { join } from 'node:path'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { ApiError } from '../api-error.js'
import { packageRoot } from '../package-root.js'

/**
 * The explorer's pages may load only what the server itself serves (no CDN) and talk only to this
 * origin (HTTP and its WebSocket); nothing inline, nothing framed.
 */
export const EXPLORER_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join('; ')

const withPolicy = (reply: FastifyReply): FastifyReply =>
  reply.header('content-security-policy', EXPLORER_CSP).header('cache-control', 'no-cache')

/**
 * The browser explorer (src/explorer/web, built by npm run build): its page at / and its assets under
 * /explorer/, hidden from the API document. It is a client of the documented API like any other and
 * gets no route of its own. Without a build the page says how to make one.
 */
export async function registerExplorer (app: FastifyInstance): Promise<void> {
  const dir = app.config.EXPLORER_DIR ?? join(packageRoot(), 'dist', 'explorer')
  const built = existsSync(join(dir, 'index.html'))
  await app.register(async (scoped) => {
    if (built) {
      await scoped.register(fastifyStatic, {
        root: dir,
        prefix: '/explorer/',
        index: false,
        schemaHide: true,
        preCompressed: true,
        setHeaders: (res) => {
          res.header('content-security-policy', EXPLORER_CSP)
          res.header('cache-control', 'no-cache')
        }
      })
    }
    const notBuilt = (): never => { throw new ApiError(503, 'unavailable', `the explorer is not built (no ${join(dir, 'index.html')}): run npm run build`) }
    if (!built) scoped.get('/explorer/*', { schema: { hide: true } }, notBuilt)
    scoped.get('/', { schema: { hide: true } }, async (_request, reply) => built ? await withPolicy(reply).sendFile('index.html') : notBuilt())
  })
}
