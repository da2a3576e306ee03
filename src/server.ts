import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig } from './config.js'

/** Starts the server on the configured host and port and closes it gracefully on SIGTERM/SIGINT. */
async function main (): Promise<void> {
  let config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`rmap-sim: ${err.message}\n`)
      process.exit(1)
    }
    throw err
  }
  const app = await buildApp({ config })
  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'closing after an error')
    else app.log.info({ signal }, 'shutting down')
    await app.close()
  })
  await app.listen({ host: config.HOST, port: config.PORT })
}

main().catch((err: unknown) => {
  process.stderr.write(`rmap-sim: could not start: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
