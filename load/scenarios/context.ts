import type { Api } from '../client.js'
import type { LoadConfig } from '../config.js'
import type { ServerHandle } from '../server.js'

/** What every scenario gets: the running server, a client, the settings and a logger. */
export interface Ctx {
  server: ServerHandle
  api: Api
  cfg: LoadConfig
  root: string
  log: (s: string) => void
  /** The environment the server was started with. */
  serverEnv: Record<string, string>
}
