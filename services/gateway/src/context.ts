import type { CommandRequest, CommandResult, LiveMessage, ServiceName, Topics } from '@homelab/contracts'
import type { Counters, Logger } from '@homelab/service-kit'
import type { HistoryReader, ProjectionReader } from '@homelab/storage'
import type { Auth, LoginLimiter, Principal } from './auth.js'

/** What the routes use of the live stream (LiveHub; an in-memory one in route tests). */
export interface LiveView {
  latestOn(topic: string): LiveMessage | undefined
  snapshot(filter?: (m: LiveMessage) => boolean): LiveMessage[]
  subscribe(l: (m: LiveMessage) => void): () => void
  command(
    host: string,
    service: ServiceName,
    req: CommandRequest,
    timeoutMs: number,
  ): Promise<CommandResult | null>
}

/** Everything the routes need, passed to createApp (tests build it with real parts on temp folders and ports). */
export interface GatewayDeps {
  auth: Auth
  limiter: LoginLimiter
  hub: LiveView
  /** The history reader, or null while the recorder's database does not exist yet. */
  history: () => HistoryReader | null
  /** The projections (containers, units, services, Ollama, latest documents), or null as `history`. */
  projections: () => ProjectionReader | null
  topics: Topics
  /** The host the gateway runs on: the default `host` of every query. */
  host: string
  sessionTtlMs: number
  secureCookies: boolean
  commandTimeoutMs: number
  webDir: string | null
  mqttConnected: () => boolean
  log: Logger
  counters: Counters
}

export type Env = { Variables: { principal: Principal } }
